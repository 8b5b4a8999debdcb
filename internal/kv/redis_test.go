package kv_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/testredis"
)

// The Redis tests run against a real redis-server on 127.0.0.1, one per
// test that asks (testredis.Start), stopped when it ends.
func redisURL(t testing.TB) string { return testredis.Start(t) }

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
	url := redisURL(t)
	a, b := openURL(t, url), openURL(t, url)
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
	st0, st1 := openURL(t, url), openURL(t, url+"/1")
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
