package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"text/template"
	"time"
)

// haproxyConfig is the balancer in front of the replicas. What matters:
//
//   - option httpchk GET /readyz, against each replica's admin port
//     ("check port"), every 100 ms ("inter"); 2 failures take a replica
//     out of rotation ("fall"), 2 successes put it back ("rise"). A
//     replica's --shutdown-delay must outlast fall × inter and the check in
//     flight, so that haproxy stops sending before the replica drains.
//   - retry-on all-retryable-errors, retries 3 and option redispatch 1: a
//     request that could not be sent (connection refused), got no answer
//     (the replica died with it), or got a 5xx is sent again, each time to
//     another replica.
//   - http-request disable-l7-retry unless METH_GET: a request other than
//     GET or HEAD is retried only when its connection failed, so it never
//     reached a replica. Once sent, it may have run (a POST's write may be
//     done when the replica dies before answering); sending it again could
//     run it twice. Its client gets a 502 and decides.
var haproxyConfig = template.Must(template.New("haproxy.cfg").Parse(`# written by go run ./internal/replicas
global
	stats socket {{.Socket}} mode 600 level user
	maxconn 4096

defaults
	mode http
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	timeout http-keep-alive 10s
	timeout check 1s
	retries 3
	option redispatch 1
	retry-on all-retryable-errors

frontend web
	bind {{.Front}}
	default_backend wasmroute

backend wasmroute
	balance roundrobin
	http-request disable-l7-retry unless METH_GET
	http-response set-header X-Replica %[srv_name]
	option httpchk GET /readyz
	http-check expect status 200
	default-server inter 100ms fastinter 100ms downinter 100ms fall 2 rise 2
{{- range .Replicas}}
	server {{.Name}} {{.Addr}} check port {{.AdminPort}}
{{- end}}
`))

// haproxy is a running haproxy and what its stats socket said.
type haproxy struct {
	cmd    *exec.Cmd
	done   chan struct{}
	socket string
	stopc  chan struct{}
	polled chan struct{} // closed when the poller ended

	mu      sync.Mutex
	state   map[string]bool // in rotation, by server
	trans   []transition
	backend map[string]string // the backend's row, last read
	err     error             // the last failure to read the stats
}

// transition is a server entering or leaving haproxy's rotation, as its
// stats socket showed it.
type transition struct {
	At     time.Time
	Server string
	Up     bool
	Status string // haproxy's: UP, DOWN, "UP 1/2" (going down), ...
}

// startHAProxy writes haproxy's configuration into dir and starts it in
// the foreground (-db), by PID, with its output in dir/haproxy.log.
func startHAProxy(ctx context.Context, path, dir, front string, replicas []*replica) (*haproxy, error) {
	type server struct{ Name, Addr, AdminPort string }
	data := struct {
		Socket, Front string
		Replicas      []server
	}{Socket: filepath.Join(dir, "haproxy.sock"), Front: front}
	for _, r := range replicas {
		_, port, _ := net.SplitHostPort(r.admin)
		data.Replicas = append(data.Replicas, server{r.name, r.addr, port})
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	f, err := os.Create(cfgPath)
	if err != nil {
		return nil, err
	}
	err = haproxyConfig.Execute(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, path, "-c", "-q", "-f", cfgPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c -f %s: %v\n%s", cfgPath, err, out)
	}
	logFile, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	h := &haproxy{cmd: cmd, done: make(chan struct{}), socket: data.Socket, stopc: make(chan struct{}), polled: make(chan struct{}), state: map[string]bool{}}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(h.done)
	}()
	go h.poll()
	return h, nil
}

// stop stops the poller and haproxy (SIGKILL, by PID).
func (h *haproxy) stop() {
	select {
	case <-h.stopc:
		return
	default:
	}
	close(h.stopc)
	<-h.polled
	h.cmd.Process.Kill()
	<-h.done
}

// poll reads the servers' states every 10 ms until stop, keeping each
// change.
func (h *haproxy) poll() {
	defer close(h.polled)
	for {
		rows, err := h.stats()
		now := time.Now()
		h.mu.Lock()
		h.err = err
		for server, row := range rows {
			status := row["status"]
			if server == "BACKEND" {
				h.backend = row
				continue
			}
			up := strings.HasPrefix(status, "UP")
			if was, ok := h.state[server]; !ok || was != up {
				h.state[server] = up
				h.trans = append(h.trans, transition{now, server, up, status})
			}
		}
		h.mu.Unlock()
		select {
		case <-h.stopc:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stats asks the stats socket for the backend's rows: its servers' and
// its own (BACKEND), each by column name (status, wretr, ...).
func (h *haproxy) stats() (map[string]map[string]string, error) {
	c, err := net.DialTimeout("unix", h.socket, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	header, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: %w", err)
	}
	cols := strings.Split(strings.TrimSpace(strings.TrimPrefix(header, "# ")), ",")
	if len(cols) < 18 || cols[0] != "pxname" || cols[1] != "svname" {
		return nil, fmt.Errorf("haproxy stats: unexpected header %q", header)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: %w", err)
	}
	servers := map[string]map[string]string{}
	for _, row := range rows {
		if len(row) < 2 || row[0] != "wasmroute" {
			continue
		}
		m := map[string]string{}
		for i, v := range row {
			if i < len(cols) {
				m[cols[i]] = v
			}
		}
		servers[row[1]] = m
	}
	return servers, nil
}

// transitions returns every change of state seen so far.
func (h *haproxy) transitions() []transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]transition(nil), h.trans...)
}

// counters are the backend's figures of the given stats columns, last
// read: wretr (retries), wredis (redispatches), eresp, econ, ...
func (h *haproxy) counters(cols ...string) map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := map[string]string{}
	for _, c := range cols {
		m[c] = h.backend[c]
	}
	return m
}

// waitFor waits until server enters (up) or leaves haproxy's rotation at
// or after since, and returns when.
func (h *haproxy) waitFor(ctx context.Context, server string, up bool, since time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		h.mu.Lock()
		for _, t := range h.trans {
			if t.Server == server && t.Up == up && !t.At.Before(since) {
				h.mu.Unlock()
				return t.At, nil
			}
		}
		err := h.err
		h.mu.Unlock()
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("haproxy did not mark %s %s within %v (last stats error: %v)", server, upDown(up), timeout, err)
		}
		select {
		case <-h.done:
			return time.Time{}, fmt.Errorf("haproxy exited: see haproxy.log")
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitAll waits until haproxy has the 3 replicas in rotation.
func (h *haproxy) waitAll(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		h.mu.Lock()
		n := 0
		for _, s := range h.state {
			if s {
				n++
			}
		}
		all, err := n == 3, h.err
		h.mu.Unlock()
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy did not mark the 3 replicas UP within %v (last stats error: %v)", timeout, err)
		}
		select {
		case <-h.done:
			return fmt.Errorf("haproxy exited: see haproxy.log")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}
