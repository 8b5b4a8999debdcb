package kv_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/internal/kv"
)

// The Redis tests run against a real redis-server on 127.0.0.1, started
// once per test binary (on the first test that asks) and stopped by
// TestMain.
var redis struct {
	once   sync.Once
	cmd    *exec.Cmd
	exited chan error // cmd.Wait's
	dir    string
	url    string
	err    error
}

// redisURL returns the URL of the test binary's redis-server, starting it
// if needed. A machine without redis-server fails the test: CI installs it
// (.ci/run), as should anyone running the tests.
func redisURL(t testing.TB) string {
	t.Helper()
	redis.once.Do(startRedis)
	if redis.err != nil {
		t.Fatal(redis.err)
	}
	return redis.url
}

func startRedis() {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		redis.err = fmt.Errorf("the Redis backend is tested against a real server, and %v: install it (Debian: apt-get install redis-server; CI's .ci/run does)", err)
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		redis.err = err
		return
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if redis.dir, err = os.MkdirTemp("", "wasmroute-kv-redis-"); err != nil {
		redis.err = err
		return
	}
	var out bytes.Buffer
	cmd := exec.Command(path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", redis.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = &out, &out
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		redis.err = err
		return
	}
	redis.cmd = cmd
	redis.exited = make(chan error, 1)
	go func() { redis.exited <- cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ping(addr) {
			redis.url = "redis://" + addr
			return
		}
		select {
		case err := <-redis.exited:
			redis.err = fmt.Errorf("redis-server exited: %v\n%s", err, out.Bytes())
			redis.cmd = nil
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			redis.err = fmt.Errorf("redis-server on %s did not answer PING within 10s\n%s", addr, out.Bytes())
			return
		}
	}
}

// ping reports whether a Redis server at addr answers PING.
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
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// stopRedis kills the server started by redisURL, if any, and removes its
// folder.
func stopRedis() {
	if redis.cmd != nil {
		redis.cmd.Process.Kill()
		<-redis.exited
	}
	if redis.dir != "" {
		os.RemoveAll(redis.dir)
	}
}

func openRedis(t testing.TB) *kv.Store {
	t.Helper()
	st, err := kv.Open(context.Background(), kv.Config{URL: redisURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if got := st.Backend(); got != "redis" {
		t.Errorf("Backend() = %q, want redis", got)
	}
	return st
}

// TestRedisReplicas increments one key through two Stores, two clients as
// two replicas of a service would have, sharing the server.
func TestRedisReplicas(t *testing.T) {
	t.Parallel()
	a, b := openRedis(t), openRedis(t)
	nsA, err := a.Namespace("replicas", kv.Limits{MaxKeys: 1})
	if err != nil {
		t.Fatal(err)
	}
	nsB, err := b.Namespace("replicas", kv.Limits{MaxKeys: 1})
	if err != nil {
		t.Fatal(err)
	}
	concurrentIncr(t, []kv.Namespace{nsA, nsB}, "hits")
	mustGet(t, nsA, "hits", "3200")
	// The key limit holds across replicas too.
	if err := nsB.Set(context.Background(), "other", []byte("1"), 0); !errors.Is(err, kv.ErrLimit) {
		t.Errorf("second key in a namespace of one: %v, want ErrLimit", err)
	}
}

func TestRedisOpen(t *testing.T) {
	t.Parallel()
	url := redisURL(t)

	// A database number selects another keyspace.
	st0, st1 := openRedis(t), openURL(t, url+"/1")
	ns0, _ := st0.Namespace("db", kv.Limits{})
	ns1, _ := st1.Namespace("db", kv.Limits{})
	mustSet(t, ns1, "k", "db1", 0)
	mustNotFound(t, ns0, "k")

	// Nothing listening: Open fails at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if st, err := kv.Open(ctx, kv.Config{URL: "redis://user:secret@" + free}); err == nil {
		st.Close()
		t.Errorf("Open of a server that is not there succeeded")
	} else if !strings.Contains(err.Error(), "connecting to redis://user:xxxxx@"+free) || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open of a server that is not there: %v; want a message naming it, without the password", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open of a server that is not there took %v", d)
	}
}

func openURL(t testing.TB, url string) *kv.Store {
	t.Helper()
	st, err := kv.Open(context.Background(), kv.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
