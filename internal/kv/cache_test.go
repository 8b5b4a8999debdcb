package kv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/kv"
)

// TestCache runs a shared response cache through two Stores (two
// replicas) on one redis-server: the byte bound with its LRU order, the
// generation that keeps an answer asked for before a Revalidate out, the
// lock, and namespaces that do not meet.
func TestCache(t *testing.T) {
	url := redisURL(t)
	ctx := context.Background()
	open := func(name string, max int64) *kv.Cache {
		st, err := kv.Open(ctx, kv.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		c, err := st.Cache(name, max)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b, other := open("site", 300), open("site", 300), open("other", 300)
	ids := []string{"aa", "bb", "cc", "dd"}
	put := func(c *kv.Cache, id string) {
		t.Helper()
		_, gen, err := c.Get(ctx, id, "0"+id, "ff")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Put(ctx, kv.Entry{ID: id, Value: []byte("v" + id), TTL: time.Minute, Size: 100, Path: "0" + id, Route: "ff", Gen: gen}); !ok || err != nil {
			t.Fatalf("Put %s: %v, %v", id, ok, err)
		}
	}
	held := func(c *kv.Cache) []string {
		var got []string
		for _, id := range ids {
			if v, _, err := c.Get(ctx, id, "0"+id, "ff"); err != nil {
				t.Fatal(err)
			} else if v != nil {
				got = append(got, string(v))
			}
		}
		return got
	}
	put(a, "aa")
	put(b, "bb")
	put(a, "cc")
	time.Sleep(2 * time.Millisecond) // a later millisecond: the LRU's score
	b.Get(ctx, "aa", "0aa", "ff")
	time.Sleep(2 * time.Millisecond)
	put(b, "dd") // 400 bytes: bb, used least recently, goes
	if diff := cmp.Diff([]string{"vaa", "vcc", "vdd"}, held(a)); diff != "" {
		t.Errorf("after 4 entries of 100 bytes within 300, aa used after bb and cc (-want +got):\n%s", diff)
	}
	if got := held(other); got != nil {
		t.Errorf("another namespace holds %v", got)
	}

	_, gen, _ := a.Get(ctx, "bb", "0bb", "ff")
	if err := b.Revalidate(ctx, "0aa", ""); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Put(ctx, kv.Entry{ID: "bb", Value: []byte("old"), TTL: time.Minute, Size: 100, Path: "0bb", Gen: gen}); ok || err != nil {
		t.Errorf("Put of an answer asked for before a Revalidate: %v, %v", ok, err)
	}
	if err := a.Revalidate(ctx, "none", "ff"); err != nil {
		t.Fatal(err)
	}
	if got := held(b); got != nil {
		t.Errorf("after Revalidate of the path of aa and of the route: %v", got)
	}

	if got, err := a.Lock(ctx, "aa", "t1", time.Minute); !got || err != nil {
		t.Fatalf("first Lock: %v, %v", got, err)
	}
	if got, _ := b.Lock(ctx, "aa", "t2", time.Minute); got {
		t.Error("a second Lock of a held lock succeeded")
	}
	if _, locked, _ := b.Peek(ctx, "aa", "0aa", "ff"); !locked {
		t.Error("Peek does not see the lock")
	}
	b.Unlock(ctx, "aa", "t2") // not its holder: nothing
	if _, locked, _ := b.Peek(ctx, "aa", "0aa", "ff"); !locked {
		t.Error("Unlock by another token released the lock")
	}
	a.Unlock(ctx, "aa", "t1")
	if got, _ := b.Lock(ctx, "aa", "t2", time.Minute); !got {
		t.Error("Lock after Unlock failed")
	}
}

// TestCacheRevalidateCost: revalidating a path with 20,000 entries (one
// per query string: what one client can make) costs what revalidating one
// does, rather than holding the server for every namespace while they are
// deleted; the entries are unreachable at once, new ones are stored, and a
// path without entries leaves no key behind.
func TestCacheRevalidateCost(t *testing.T) {
	url := redisURL(t)
	ctx := context.Background()
	st, err := kv.Open(ctx, kv.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.Cache("flood", 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	other, err := st.Cache("victim", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	_, gen, _ := c.Get(ctx, "x", "p", "r")
	for i := range n {
		if ok, err := c.Put(ctx, kv.Entry{ID: fmt.Sprintf("%x", i), Value: []byte("v"), TTL: time.Hour, Size: 100, Path: "p", Route: "r", Gen: gen}); !ok || err != nil {
			t.Fatalf("Put %d: %v, %v", i, ok, err)
		}
	}
	start := time.Now()
	if err := c.Revalidate(ctx, "p", ""); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("Revalidate of a path with %d entries took %v", n, took)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if v, _, err := c.Get(ctx, fmt.Sprintf("%x", i), "p", "r"); v != nil || err != nil {
			t.Errorf("entry %d after Revalidate: %q, %v", i, v, err)
		}
	}
	_, gen, _ = c.Get(ctx, "0", "p", "r")
	if ok, err := c.Put(ctx, kv.Entry{ID: "0", Value: []byte("new"), TTL: time.Hour, Size: 100, Path: "p", Route: "r", Gen: gen}); !ok || err != nil {
		t.Fatalf("Put after Revalidate: %v, %v", ok, err)
	}
	if v, _, _ := c.Get(ctx, "0", "p", "r"); string(v) != "new" {
		t.Errorf("the entry stored after Revalidate = %q", v)
	}
	if v, _, err := other.Get(ctx, "0", "p", "r"); v != nil || err != nil {
		t.Errorf("another namespace: %q, %v", v, err)
	}
	// A path that holds nothing: no generation key is made for it.
	if err := c.Revalidate(ctx, "nothing", ""); err != nil {
		t.Fatal(err)
	}
	rc := kv.RedisClient(st)
	if n, err := rc.Do(ctx, rc.B().Exists().Key("wasmroute:{flood}:c:g:nothing").Build()).AsInt64(); n != 0 || err != nil {
		t.Errorf("Revalidate of a path without entries made its generation key: %d, %v", n, err)
	}
}

// TestCacheEmbedded: the embedded store is one process's, so it has no
// shared cache; a bad namespace name is refused.
func TestCacheEmbedded(t *testing.T) {
	if _, err := openEmbedded(t, t.TempDir()).Cache("site", 1<<20); !errors.Is(err, kv.ErrNoSharedCache) {
		t.Errorf("embedded store: %v", err)
	}
	if _, err := openRedis(t).Cache("a:b", 1<<20); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Errorf("namespace a:b: %v", err)
	}
}
