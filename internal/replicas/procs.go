package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// cluster is the replicas of one run and what starts them.
type cluster struct {
	binary, project, redis, cacheDir string
	cfg                              config
	replicas                         []*replica
}

// drainingLine is what serve prints as it stops accepting and drains the
// requests in flight, once its --shutdown-delay is over.
const drainingLine = "shutting down: draining requests in flight"

// replica is one slot behind haproxy: a name and two ports, served by one
// process after another.
type replica struct {
	name  string // haproxy's server name
	addr  string // public listener, 127.0.0.1:PORT
	admin string // /healthz and /readyz

	mu    sync.Mutex
	procs []*proc // every process started for it, the current one last
}

func (r *replica) current() *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procs[len(r.procs)-1]
}

// proc is one wasmroute serve process.
type proc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed once it exited
	exited time.Time     // when, once done
	err    error         // cmd.Wait's, once done

	mu       sync.Mutex
	draining time.Time // when it said it drains the requests in flight
}

func (p *proc) drainingAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.draining
}

// start starts a wasmroute serve process for r, on r's ports, and returns
// once it runs; its output goes to r's log file in the scratch folder.
func (c *cluster) start(ctx context.Context, r *replica) (*proc, error) {
	logFile, err := os.OpenFile(filepath.Join(c.cfg.Dir, r.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.binary, "serve", "--no-build",
		"--addr", r.addr, "--admin-addr", r.admin,
		"--cache-dir", c.cacheDir,
		"--kv", c.redis, "--max-kv-keys", "10000000",
		"--shutdown-delay", c.cfg.ShutdownDelay.String(),
		c.project)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			line := lines.Text()
			if strings.HasPrefix(line, drainingLine) {
				p.mu.Lock()
				p.draining = time.Now()
				p.mu.Unlock()
			}
			fmt.Fprintln(logFile, line)
		}
		io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		p.exited = time.Now()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls p's /readyz on admin until it answers 200, and returns
// when it did.
func (p *proc) waitReady(ctx context.Context, admin string, timeout time.Duration) (time.Time, error) {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		res, err := client.Get("http://" + admin + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		select {
		case <-p.done:
			return time.Time{}, fmt.Errorf("wasmroute serve exited (%v) before it was ready: see its log", exitStatus(p.err))
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("/readyz on %s did not answer 200 within %v", admin, timeout)
		}
	}
}

// stop kills every process still running (SIGKILL, by PID) and waits for
// each to exit.
func (c *cluster) stop() {
	for _, r := range c.replicas {
		r.mu.Lock()
		procs := r.procs
		r.mu.Unlock()
		for _, p := range procs {
			select {
			case <-p.done:
			default:
				p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
}

// exitStatus says how a process ended: "exit 0" or the error.
func exitStatus(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit 0"
	case errors.As(err, &ee):
		return ee.String()
	}
	return err.Error()
}
