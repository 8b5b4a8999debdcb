package kv_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/kv"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// TestEmbedded runs the suite on the embedded store (bbolt), every
// namespace in one Store, as a server would have them.
func TestEmbedded(t *testing.T) {
	t.Parallel()
	st := openEmbedded(t, t.TempDir())
	testNamespace(t, func(t *testing.T, lim kv.Limits) kv.Namespace { return namespace(t, st, lim) })
}

// TestRedis runs the suite on a real redis-server.
func TestRedis(t *testing.T) {
	t.Parallel()
	st := openRedis(t)
	testNamespace(t, func(t *testing.T, lim kv.Limits) kv.Namespace { return namespace(t, st, lim) })
}

func openEmbedded(t testing.TB, dir string) *kv.Store {
	t.Helper()
	st, err := kv.Open(context.Background(), kv.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st
}

var namespaces atomic.Int64

// namespace returns a namespace of st no other test uses.
func namespace(t testing.TB, st *kv.Store, lim kv.Limits) kv.Namespace {
	t.Helper()
	ns, err := st.Namespace(fmt.Sprintf("test-%d", namespaces.Add(1)), lim)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// testNamespace is the behaviour both backends share. open returns a new,
// empty namespace, in the same Store each time.
func testNamespace(t *testing.T, open func(t *testing.T, lim kv.Limits) kv.Namespace) {
	ctx := context.Background()
	// The expiry test sleeps: it runs beside the others.
	t.Run("expiry", func(t *testing.T) { t.Parallel(); testExpiry(t, open) })

	t.Run("get set delete", func(t *testing.T) {
		ns := open(t, kv.Limits{})
		mustNotFound(t, ns, "a")
		for _, v := range []string{"1", "two", "", "bin\x00\xff\xfe\r\n", strings.Repeat("x", 100_000)} {
			mustSet(t, ns, "a", v, 0)
			mustGet(t, ns, "a", v)
		}
		mustSet(t, ns, "b", "b", 0)
		mustDelete(t, ns, "a")
		mustNotFound(t, ns, "a")
		mustDelete(t, ns, "a") // missing: not an error
		mustDelete(t, ns, "never")
		mustGet(t, ns, "b", "b")
		mustList(t, ns, "", "b")
	})

	t.Run("get returns a copy", func(t *testing.T) {
		ns := open(t, kv.Limits{})
		mustSet(t, ns, "k", "value", 0)
		v, _ := ns.Get(ctx, "k")
		v[0] = 'X'
		mustGet(t, ns, "k", "value")
	})

	t.Run("list", func(t *testing.T) {
		ns := open(t, kv.Limits{})
		mustList(t, ns, "")
		keys := []string{"b", "a", "ab", "a:b", "a/b", "é", "z", "日本", "A", "a b", "~", "\x7f"}
		for _, k := range keys {
			mustSet(t, ns, k, "v", 0)
		}
		mustList(t, ns, "", "A", "a", "a b", "a/b", "a:b", "ab", "b", "z", "~", "\x7f", "é", "日本")
		mustList(t, ns, "a", "a", "a b", "a/b", "a:b", "ab")
		mustList(t, ns, "ab", "ab")
		mustList(t, ns, "\xc3", "é") // a prefix need not be UTF-8
		mustList(t, ns, "日", "日本")
		mustList(t, ns, "nope")
		mustList(t, ns, "aa")
		mustList(t, ns, strings.Repeat("a", kv.MaxKey+1))
		mustDelete(t, ns, "a:b")
		mustList(t, ns, "a:")
	})

	t.Run("incr", func(t *testing.T) {
		ns := open(t, kv.Limits{})
		for _, step := range []struct {
			by, want int64
		}{{1, 1}, {41, 42}, {0, 42}, {-50, -8}, {8, 0}, {math.MaxInt64, math.MaxInt64}, {math.MinInt64, -1}} {
			mustIncr(t, ns, "n", step.by, step.want)
		}
		mustGet(t, ns, "n", "-1")
		mustIncr(t, ns, "fresh", -7, -7)
		mustGet(t, ns, "fresh", "-7")

		for _, v := range []string{"0", "-5", "7", "9223372036854775807", "-9223372036854775808", "10"} {
			mustSet(t, ns, "int", v, 0)
			mustIncr(t, ns, "int", 0, parseInt(t, v))
		}
		// As Redis reads integers: no sign but '-', no leading zero, no
		// space, no "-0", nothing out of int64's range.
		for _, v := range []string{"", "abc", "1.5", "1e3", " 1", "1 ", "+1", "007", "-0", "-", "0x10", "١", "9223372036854775808", "-9223372036854775809", "99999999999999999999"} {
			mustSet(t, ns, "int", v, 0)
			_, err := ns.Incr(ctx, "int", 1)
			if !errors.Is(err, kv.ErrNotInteger) || !strings.Contains(err.Error(), `kv incr "int": not an integer`) {
				t.Errorf("Incr of %q: %v, want ErrNotInteger", v, err)
			}
			mustGet(t, ns, "int", v)
		}
		for _, tc := range []struct {
			v  string
			by int64
		}{{"9223372036854775807", 1}, {"-9223372036854775808", -1}, {"1", math.MaxInt64}, {"-2", math.MinInt64}} {
			mustSet(t, ns, "int", tc.v, 0)
			_, err := ns.Incr(ctx, "int", tc.by)
			if !errors.Is(err, kv.ErrNotInteger) || !strings.Contains(err.Error(), "overflows int64") {
				t.Errorf("Incr(%q, %d): %v, want ErrNotInteger for the overflow", tc.v, tc.by, err)
			}
			mustGet(t, ns, "int", tc.v)
		}
	})

	t.Run("limits", func(t *testing.T) {
		ns := open(t, kv.Limits{MaxKeys: 3, MaxValue: 10})
		mustSet(t, ns, "a", strings.Repeat("x", 10), 0)
		err := ns.Set(ctx, "b", []byte(strings.Repeat("x", 11)), 0)
		if want := `kv set "b": value too large: 11 bytes, over maxKVValue (10)`; !errors.Is(err, kv.ErrTooLarge) || err.Error() != want {
			t.Errorf("Set of 11 bytes: %v, want %q", err, want)
		}
		mustNotFound(t, ns, "b")
		mustSet(t, ns, "b", "1", 0)
		mustSet(t, ns, "c", "1", 0)
		limited := func(op, key string, err error) {
			t.Helper()
			prefix := fmt.Sprintf("kv %s %q: too many keys: a new key would take namespace test-", op, key)
			if !errors.Is(err, kv.ErrLimit) || !strings.HasPrefix(err.Error(), prefix) || !strings.HasSuffix(err.Error(), " past maxKVKeys (3)") {
				t.Errorf("%s of a fourth key: %v, want ErrLimit naming maxKVKeys (3)", op, err)
			}
		}
		limited("set", "new", ns.Set(ctx, "new", []byte("1"), 0))
		_, err = ns.Incr(ctx, "new", 1)
		limited("incr", "new", err)
		mustNotFound(t, ns, "new")
		mustSet(t, ns, "a", "overwrite", 0) // an existing key is not a new one
		mustSet(t, ns, "a", "with ttl", time.Hour)
		mustIncr(t, ns, "b", 1, 2)
		mustDelete(t, ns, "b")
		mustIncr(t, ns, "new", 5, 5) // a new key counts
		limited("set", "new2", ns.Set(ctx, "new2", []byte("1"), 0))
		mustList(t, ns, "", "a", "c", "new")
		mustDelete(t, ns, "nothing")
		limited("set", "new3", ns.Set(ctx, "new3", []byte("1"), 0))
	})

	t.Run("isolation", func(t *testing.T) {
		a, b := open(t, kv.Limits{MaxKeys: 20}), open(t, kv.Limits{MaxKeys: 20})
		// Keys that look like another namespace's, a separator, a path.
		keys := []string{"k", ":", "k:x", "}:k:x", "{x}", "..", "../x", "wasmroute:{test-1}:k:k", "*", "a b", "é", "\u2028", "%00", "\\"}
		for _, k := range keys {
			mustSet(t, a, k, "a:"+k, 0)
		}
		mustList(t, b, "")
		for _, k := range keys {
			mustNotFound(t, b, k)
			mustSet(t, b, k, "b:"+k, 0)
		}
		for _, k := range keys {
			mustGet(t, a, k, "a:"+k)
			mustGet(t, b, k, "b:"+k)
		}
		mustIncr(t, a, "n", 1, 1)
		mustIncr(t, b, "n", 10, 10)
		mustDelete(t, a, "k")
		mustNotFound(t, a, "k")
		mustGet(t, b, "k", "b:k")
		want := slices.Sorted(slices.Values(append(keys, "n")))
		mustList(t, b, "", want...)
		mustList(t, a, "", slices.DeleteFunc(want, func(k string) bool { return k == "k" })...)
	})

	t.Run("keys", func(t *testing.T) {
		ns := open(t, kv.Limits{})
		long := strings.Repeat("é", kv.MaxKey/2)
		mustSet(t, ns, long, "max", 0)
		mustGet(t, ns, long, "max")
		for _, bad := range []string{"", long + "x", "\xff", "a\xc3"} {
			errs := []error{ns.Set(ctx, bad, nil, 0), ns.Delete(ctx, bad)}
			_, err := ns.Get(ctx, bad)
			errs = append(errs, err)
			_, err = ns.Incr(ctx, bad, 1)
			errs = append(errs, err)
			for _, err := range errs {
				if !errors.Is(err, kv.ErrInvalidKey) {
					t.Errorf("key %.20q: %v, want ErrInvalidKey", bad, err)
				}
			}
		}
	})

	t.Run("context", func(t *testing.T) {
		ns := open(t, kv.Limits{})
		mustSet(t, ns, "k", "v", 0)
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		past, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		for _, c := range []struct {
			ctx  context.Context
			want error
		}{{canceled, context.Canceled}, {past, context.DeadlineExceeded}} {
			_, err1 := ns.Get(c.ctx, "k")
			err2 := ns.Set(c.ctx, "new", []byte("v"), 0)
			err3 := ns.Delete(c.ctx, "k")
			_, err4 := ns.Incr(c.ctx, "k2", 1)
			_, err5 := ns.List(c.ctx, "")
			for i, err := range []error{err1, err2, err3, err4, err5} {
				if !errors.Is(err, c.want) {
					t.Errorf("call %d with a context ended: %v, want %v", i+1, err, c.want)
				}
			}
		}
		mustList(t, ns, "", "k") // nothing was written, or deleted
	})

	t.Run("concurrent incr", func(t *testing.T) {
		ns := open(t, kv.Limits{})
		concurrentIncr(t, []kv.Namespace{ns}, "hits")
		mustGet(t, ns, "hits", "3200")
	})
}

// testExpiry checks expiry in one sleep of a little over a second: keys
// with a TTL of 1 s (or less, rounded up) disappear from Get, List and the
// key count; Incr keeps a TTL, Set without one drops it.
func testExpiry(t *testing.T, open func(t *testing.T, lim kv.Limits) kv.Namespace) {
	ctx := context.Background()
	ns := open(t, kv.Limits{MaxKeys: 8})
	for _, k := range []string{"ttl1", "ttl-half", "ttl-incr", "ttl-reset", "ttl-tiny", "ttl-again"} {
		ttl := time.Second
		switch k {
		case "ttl-half":
			ttl = 500 * time.Millisecond
		case "ttl-tiny":
			ttl = time.Nanosecond
		}
		mustSet(t, ns, k, "1", ttl)
	}
	mustSet(t, ns, "ttl-hour", "1", time.Hour)
	mustSet(t, ns, "forever", "1", 0)
	mustIncr(t, ns, "ttl-incr", 1, 2)
	mustSet(t, ns, "ttl-reset", "2", 0)
	mustSet(t, ns, "ttl-again", "2", time.Second) // set again: expires a second from now
	mustList(t, ns, "", "forever", "ttl-again", "ttl-half", "ttl-hour", "ttl-incr", "ttl-reset", "ttl-tiny", "ttl1")
	if err := ns.Set(ctx, "full", []byte("1"), 0); !errors.Is(err, kv.ErrLimit) {
		t.Fatalf("Set of a ninth key: %v, want ErrLimit", err)
	}
	time.Sleep(1100 * time.Millisecond)
	for _, k := range []string{"ttl1", "ttl-half", "ttl-incr", "ttl-tiny", "ttl-again"} {
		mustNotFound(t, ns, k)
	}
	mustGet(t, ns, "ttl-reset", "2")
	mustGet(t, ns, "ttl-hour", "1")
	mustList(t, ns, "", "forever", "ttl-hour", "ttl-reset")
	mustList(t, ns, "ttl1")
	mustIncr(t, ns, "ttl-incr", 1, 1) // expired: starts from 0, without expiry
	// 4 keys: 4 more fit.
	for i := range 4 {
		mustSet(t, ns, fmt.Sprint("new", i), "1", 0)
	}
	if err := ns.Set(ctx, "full", []byte("1"), 0); !errors.Is(err, kv.ErrLimit) {
		t.Errorf("Set of a ninth key: %v, want ErrLimit", err)
	}
	mustList(t, ns, "", "forever", "new0", "new1", "new2", "new3", "ttl-hour", "ttl-incr", "ttl-reset")
}

// concurrentIncr increments key 100 times from each of 32 goroutines,
// spread over namespaces: every result from 1 to 3200 must come back once.
func concurrentIncr(t *testing.T, namespaces []kv.Namespace, key string) {
	t.Helper()
	const workers, each = 32, 100
	var (
		mu   sync.Mutex
		seen []int64
		wg   sync.WaitGroup
	)
	for w := range workers {
		ns := namespaces[w%len(namespaces)]
		wg.Go(func() {
			var got []int64
			for range each {
				n, err := ns.Incr(context.Background(), key, 1)
				if err != nil {
					t.Error(err)
					return
				}
				got = append(got, n)
			}
			mu.Lock()
			seen = append(seen, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(seen)
	for i, n := range seen {
		if n != int64(i+1) {
			t.Fatalf("%d increments returned %v…, want each of 1 to %d once", len(seen), seen[max(0, i-3):min(len(seen), i+3)], workers*each)
		}
	}
	if len(seen) != workers*each {
		t.Fatalf("%d increments succeeded, want %d", len(seen), workers*each)
	}
}

func parseInt(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustSet(t *testing.T, ns kv.Namespace, key, value string, ttl time.Duration) {
	t.Helper()
	if err := ns.Set(context.Background(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Set(%.40q): %v", key, err)
	}
}

func mustGet(t *testing.T, ns kv.Namespace, key, want string) {
	t.Helper()
	got, err := ns.Get(context.Background(), key)
	if err != nil || string(got) != want {
		t.Errorf("Get(%.40q) = %.40q, %v; want %.40q", key, got, err, want)
	}
}

func mustNotFound(t *testing.T, ns kv.Namespace, key string) {
	t.Helper()
	v, err := ns.Get(context.Background(), key)
	if want := fmt.Sprintf("kv get %q: no such key", key); !errors.Is(err, kv.ErrNotFound) || err.Error() != want {
		t.Errorf("Get(%.40q) = %q, %v; want %q", key, v, err, want)
	}
}

func mustDelete(t *testing.T, ns kv.Namespace, key string) {
	t.Helper()
	if err := ns.Delete(context.Background(), key); err != nil {
		t.Errorf("Delete(%q): %v", key, err)
	}
}

func mustIncr(t *testing.T, ns kv.Namespace, key string, by, want int64) {
	t.Helper()
	got, err := ns.Incr(context.Background(), key, by)
	if err != nil || got != want {
		t.Errorf("Incr(%q, %d) = %d, %v; want %d", key, by, got, err, want)
	}
}

func mustList(t *testing.T, ns kv.Namespace, prefix string, want ...string) {
	t.Helper()
	got, err := ns.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%.40q): %v", prefix, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List(%.40q) (-want +got):\n%s", prefix, diff)
	}
}
