// Package testredis starts a real redis-server for tests: on 127.0.0.1, on
// a free port, with a temporary folder, stopped by PID when the test ends.
// A machine without redis-server fails the test with how to install it;
// CI's .ci/run installs it.
package testredis

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Start starts a redis-server for t and returns its URL, redis://127.0.0.1:PORT.
// It is stopped (SIGKILL, by PID) and its folder removed when t ends.
// Persistence is off: the tests that need durability test the embedded
// store.
func Start(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("the Redis backend is tested against a real server, and %v: install it (Debian: apt-get install redis-server; .ci/run does)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var out bytes.Buffer
	cmd := exec.Command(path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if ping(addr) {
			return "redis://" + addr
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("redis-server exited: %v\n%s", err, out.Bytes())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("redis-server on %s did not answer PING within 10s\n%s", addr, out.Bytes())
	return ""
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
