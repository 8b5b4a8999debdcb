// Package testredis starts a real redis-server for tests: on 127.0.0.1, on
// a free port, with a temporary folder, stopped by PID when the test ends.
// A machine without redis-server fails the test with how to install it;
// CI's .ci/run installs it.
package testredis

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Start starts a redis-server for t and returns its URL, redis://127.0.0.1:PORT.
// It is stopped (SIGKILL, by PID) and its folder removed when t ends.
// Persistence is off: the tests that need durability test the embedded
// store.
func Start(t testing.TB) string {
	t.Helper()
	s, err := Run(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.URL
}

// Server is a redis-server that Run started.
type Server struct {
	URL string // redis://127.0.0.1:PORT
	PID int

	cmd    *exec.Cmd
	exited chan error
	once   sync.Once
}

// Run starts a redis-server on 127.0.0.1 and a free port, with dir as its
// folder and persistence off, and waits until it answers PING; Stop stops
// it. It is Start for programs that are not tests.
func Run(dir string) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("the Redis backend is tested against a real server, and %v: install it (Debian: apt-get install redis-server; .ci/run does)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// Its output goes to a file in dir, read if it fails to start.
	outFile := filepath.Join(dir, "redis-server.out")
	out, err := os.Create(outFile)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the server keeps its own copy
	output := func() string {
		b, _ := os.ReadFile(outFile)
		return string(b)
	}
	cmd := exec.Command(path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{PID: cmd.Process.Pid, cmd: cmd, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if ping(addr) {
			s.URL = "redis://" + addr
			return s, nil
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			return nil, fmt.Errorf("redis-server exited: %v\n%s", err, output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.Stop()
	return nil, fmt.Errorf("redis-server on %s did not answer PING within 10s\n%s", addr, output())
}

// Stop kills the server (SIGKILL, by PID) and waits for it to exit. It may
// be called more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.cmd.Process.Kill()
		<-s.exited
	})
}

// ping reports whether a Redis server answers PING at addr.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	b := make([]byte, 16)
	n, _ := c.Read(b)
	return strings.HasPrefix(string(b[:n]), "+PONG")
}
