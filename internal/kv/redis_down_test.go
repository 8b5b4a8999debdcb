package kv_test

import (
	"context"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/testredis"
)

// TestRedisDown: when the server closes the client's connections (as a
// restart of Redis does, or a proxy's idle timeout), the next get, set,
// delete and list still answer: each is sent again on a new connection
// (incr is not: it may have run). With the server gone, every operation
// fails within a fraction of a second, not at its context's deadline,
// which for a guest is the request's whole --max-duration.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv, err := testredis.Run(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	st := openURL(t, srv.URL)
	ns, err := st.Namespace("down", kv.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, ns, "k", "v", 0)

	// The server closes every client connection, the store's among them,
	// which the store's client notices only as it uses each.
	admin := openURL(t, srv.URL)
	c := kv.RedisClient(admin)
	ctx := context.Background()
	for round := range 3 {
		if err := c.Do(ctx, c.B().Arbitrary("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := ns.Set(ctx, "k", []byte("v"), 0); err != nil {
				t.Errorf("round %d: set %d after the server closed the connections: %v", round, i, err)
			}
			if err := ns.Delete(ctx, "gone"); err != nil {
				t.Errorf("round %d: delete %d after the server closed the connections: %v", round, i, err)
			}
			if _, err := ns.List(ctx, ""); err != nil {
				t.Errorf("round %d: list %d after the server closed the connections: %v", round, i, err)
			}
			mustGet(t, ns, "k", "v")
		}
	}

	srv.Stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"get", func() error { _, err := ns.Get(ctx, "k"); return err }},
		{"list", func() error { _, err := ns.List(ctx, ""); return err }},
		{"set", func() error { return ns.Set(ctx, "k", []byte("w"), 0) }},
		{"incr", func() error { _, err := ns.Incr(ctx, "n", 1); return err }},
		{"delete", func() error { return ns.Delete(ctx, "k") }},
	} {
		start := time.Now()
		err := op.do()
		if took := time.Since(start); err == nil || took > 2*time.Second {
			t.Errorf("%s with the server gone: %v after %v; want an error within 2s", op.name, err, took)
		}
	}
}
