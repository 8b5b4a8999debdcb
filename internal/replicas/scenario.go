package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/testredis"
)

// config is one run of the scenario.
type config struct {
	Duration      time.Duration // of the load; r1 is killed at a quarter, r2 gets SIGTERM at half
	Rate          int           // requests per second, at most
	Conns         int           // client connections, so requests in flight at most
	PostEvery     int           // one request in PostEvery is a POST
	ShutdownDelay time.Duration // the replicas' --shutdown-delay
	Tail          time.Duration // the load goes on at least this long once r2 is back in rotation

	Dir string    // scratch folder: the binary, the project, logs; the caller removes it
	Log io.Writer // progress, as it happens
}

var defaultConfig = config{
	Duration:      30 * time.Second,
	Rate:          300,
	Conns:         16,
	PostEvery:     3,
	ShutdownDelay: time.Second,
	Tail:          2 * time.Second,
}

// The project the replicas serve: testdata/services' kv route alone, in a
// folder named so that its key-value namespace is "replicas".
const (
	namespace = "replicas"
	seedKey   = "greeting" // what every GET reads
	seedValue = "hello from redis"
)

// run runs the scenario and returns what happened; an error means it could
// not be run (a missing tool, a replica that would not start), not that
// the replicas misbehaved: result.problems says that.
func run(ctx context.Context, cfg config) (res *result, err error) {
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, "replicas: "+format+"\n", args...) }
	haproxyPath, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, fmt.Errorf("%w: install haproxy (Debian: apt-get install haproxy)", err)
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}

	logf("building wasmroute and the kv route")
	binary := filepath.Join(cfg.Dir, "wasmroute")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, filepath.Join(root, "cmd", "wasmroute")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/wasmroute: %v\n%s", err, out)
	}
	project, err := kvProject(ctx, root, cfg.Dir)
	if err != nil {
		return nil, err
	}

	redisDir := filepath.Join(cfg.Dir, "redis")
	if err := os.Mkdir(redisDir, 0o755); err != nil {
		return nil, err
	}
	redis, err := testredis.Run(redisDir)
	if err != nil {
		return nil, err
	}
	defer redis.Stop()

	ports, err := freePorts(7)
	if err != nil {
		return nil, err
	}
	front := fmt.Sprintf("127.0.0.1:%d", ports[6])
	c := &cluster{binary: binary, project: project, redis: redis.URL, cacheDir: filepath.Join(cfg.Dir, "cache"), cfg: cfg}
	for i := range 3 {
		c.replicas = append(c.replicas, &replica{
			name:  fmt.Sprintf("r%d", i+1),
			addr:  fmt.Sprintf("127.0.0.1:%d", ports[2*i]),
			admin: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]),
		})
	}
	defer c.stop()
	// The first compiles the module into the cache the others read.
	for _, r := range c.replicas {
		logf("starting %s on %s (admin %s)", r.name, r.addr, r.admin)
		p, err := c.start(ctx, r)
		if err != nil {
			return nil, err
		}
		if _, err := p.waitReady(ctx, r.admin, 2*time.Minute); err != nil {
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
	}
	if err := seed(ctx, c.replicas[0].addr); err != nil {
		return nil, err
	}

	hp, err := startHAProxy(ctx, haproxyPath, cfg.Dir, front, c.replicas)
	if err != nil {
		return nil, err
	}
	defer hp.stop()
	logf("haproxy on http://%s", front)
	if err := hp.waitAll(ctx, 30*time.Second); err != nil {
		return nil, err
	}

	res = &result{cfg: cfg, haproxyVersion: "haproxy " + toolVersion(haproxyPath, "-v"), redisVersion: "redis-server " + toolVersion("redis-server", "--version")}
	logf("load: %v at %d req/s at most, %d connections, a POST in %d requests at random", cfg.Duration, cfg.Rate, cfg.Conns, cfg.PostEvery)
	l := startLoad("http://"+front, cfg)
	res.start = l.start
	events := make(chan error, 1)
	go func() { events <- c.failover(ctx, l.start, hp, res, logf) }()
	err = <-events
	if err == nil {
		// The load runs its course, and on for a while once r2 is back.
		end := l.start.Add(max(cfg.Duration, res.back+cfg.Tail))
		select {
		case <-time.After(time.Until(end)):
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	res.records = l.stop()
	time.Sleep(50 * time.Millisecond) // a poll of the stats after the last request
	res.transitions = hp.transitions()
	res.haproxy = hp.counters("wretr", "wredis", "econ", "eresp")
	if err != nil {
		return nil, err
	}
	logf("load done: %d requests; reading back the acknowledged writes", len(res.records))
	res.lost, err = readBack(ctx, redis.URL, res.records)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// failover is the scenario's events, while the load runs: SIGKILL r1 at a
// quarter of the load; SIGTERM r2 at half, wait for it to exit, start it
// again on the same ports and wait until haproxy sends it requests. It
// fills res's times, as offsets from the load's start.
func (c *cluster) failover(ctx context.Context, start time.Time, hp *haproxy, res *result, logf func(string, ...any)) error {
	since := func(t time.Time) time.Duration { return t.Sub(start) }
	sleepUntil := func(t time.Time) error {
		select {
		case <-time.After(time.Until(t)):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r1, r2 := c.replicas[0], c.replicas[1]

	if err := sleepUntil(start.Add(c.cfg.Duration / 4)); err != nil {
		return err
	}
	p1 := r1.current()
	t := time.Now()
	if err := p1.cmd.Process.Kill(); err != nil { // SIGKILL, by PID
		return fmt.Errorf("kill %s: %w", r1.name, err)
	}
	res.kill = since(t)
	logf("SIGKILL %s (pid %d)", r1.name, p1.cmd.Process.Pid)
	<-p1.done
	down, err := hp.waitFor(ctx, r1.name, false, t, 10*time.Second)
	if err != nil {
		return err
	}
	res.killOut = down.Sub(t)
	logf("haproxy took %s out of rotation after %v", r1.name, res.killOut.Round(time.Millisecond))

	if err := sleepUntil(start.Add(c.cfg.Duration / 2)); err != nil {
		return err
	}
	p2 := r2.current()
	t = time.Now()
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM %s: %w", r2.name, err)
	}
	res.term = since(t)
	logf("SIGTERM %s (pid %d)", r2.name, p2.cmd.Process.Pid)
	down, err = hp.waitFor(ctx, r2.name, false, t, c.cfg.ShutdownDelay+10*time.Second)
	if err != nil {
		return err
	}
	res.termOut = down.Sub(t)
	select {
	case <-p2.done:
	case <-time.After(c.cfg.ShutdownDelay + 35*time.Second): // serve drains for 30 s at most
		return fmt.Errorf("%s did not exit within %v of SIGTERM", r2.name, c.cfg.ShutdownDelay+35*time.Second)
	}
	if p2.drainingAt().IsZero() {
		return fmt.Errorf("%s exited (%v) after SIGTERM without saying %q: see %s.log", r2.name, exitStatus(p2.err), drainingLine, r2.name)
	}
	res.drained = p2.exited.Sub(t)
	res.drainStart = p2.drainingAt().Sub(t)
	res.exitErr = p2.err
	logf("%s exited %v after SIGTERM (%v), haproxy had taken it out after %v", r2.name, res.drained.Round(time.Millisecond), exitStatus(p2.err), res.termOut.Round(time.Millisecond))

	t = time.Now()
	p, err := c.start(ctx, r2)
	if err != nil {
		return err
	}
	res.restart = since(t)
	ready, err := p.waitReady(ctx, r2.admin, time.Minute)
	if err != nil {
		return fmt.Errorf("%s after its restart: %w", r2.name, err)
	}
	res.ready = ready.Sub(t)
	up, err := hp.waitFor(ctx, r2.name, true, t, 30*time.Second)
	if err != nil {
		return err
	}
	res.up = up.Sub(t)
	res.back = since(up)
	logf("%s restarted: ready after %v, back in rotation after %v", r2.name, res.ready.Round(time.Millisecond), res.up.Round(time.Millisecond))
	return nil
}

// moduleRoot is the folder of the wasmroute module (go.mod), wherever the
// program or test runs in it.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run this from the wasmroute repository: go run ./internal/replicas")
	}
	return filepath.Dir(mod), nil
}

// kvProject builds testdata/services' kv route (as the tests do, in
// place: route.wasm is git-ignored) and returns a project folder under dir
// that holds that module alone.
func kvProject(ctx context.Context, root, dir string) (string, error) {
	src := filepath.Join(root, "testdata", "services")
	if err := build.Go(ctx, src, []string{"kv"}, nil); err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(src, "app", "kv", "route.wasm"))
	if err != nil {
		return "", err
	}
	project := filepath.Join(dir, namespace)
	if err := os.MkdirAll(filepath.Join(project, "app", "kv"), 0o755); err != nil {
		return "", err
	}
	return project, os.WriteFile(filepath.Join(project, "app", "kv", "route.wasm"), b, 0o644)
}

// freePorts returns n distinct free ports on 127.0.0.1. They are free when
// asked; the scenario binds them at once.
func freePorts(n int) ([]int, error) {
	var (
		ports []int
		lns   []net.Listener
	)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// toolVersion is the version a tool prints: the first word that starts
// with a digit (or v=digit) in the first line of its output.
func toolVersion(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	line, _, _ := strings.Cut(string(out), "\n")
	for f := range strings.FieldsSeq(line) {
		if f = strings.TrimPrefix(f, "v="); f != "" && f[0] >= '0' && f[0] <= '9' {
			return f
		}
	}
	return "(version unknown)"
}
