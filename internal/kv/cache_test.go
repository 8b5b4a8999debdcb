package kv_test

import (
	"context"
	"errors"
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
		_, gen, err := c.Get(ctx, id)
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
			if v, _, err := c.Get(ctx, id); err != nil {
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
	b.Get(ctx, "aa")
	time.Sleep(2 * time.Millisecond)
	put(b, "dd") // 400 bytes: bb, used least recently, goes
	if diff := cmp.Diff([]string{"vaa", "vcc", "vdd"}, held(a)); diff != "" {
		t.Errorf("after 4 entries of 100 bytes within 300, aa used after bb and cc (-want +got):\n%s", diff)
	}
	if got := held(other); got != nil {
		t.Errorf("another namespace holds %v", got)
	}

	_, gen, _ := a.Get(ctx, "bb")
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
	if _, locked, _ := b.Peek(ctx, "aa"); !locked {
		t.Error("Peek does not see the lock")
	}
	b.Unlock(ctx, "aa", "t2") // not its holder: nothing
	if _, locked, _ := b.Peek(ctx, "aa"); !locked {
		t.Error("Unlock by another token released the lock")
	}
	a.Unlock(ctx, "aa", "t1")
	if got, _ := b.Lock(ctx, "aa", "t2", time.Minute); !got {
		t.Error("Lock after Unlock failed")
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
