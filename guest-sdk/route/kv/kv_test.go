package kv_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/kv"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

// in runs f as a handler with store as the project's namespace.
func in(store *routetest.KV, f func()) {
	req := routetest.NewRequest("GET", "/", nil)
	req.KV = store
	res := routetest.Run(func(*route.Response, *route.Request) { f() }, req)
	if res.Panic != nil {
		panic(fmt.Sprintf("%v\n%s", res.Panic, res.Stack))
	}
}

func TestOperations(t *testing.T) {
	store := &routetest.KV{}
	in(store, func() {
		check := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
		}
		check("Set", kv.Set("user:1", []byte("ada")))
		check("SetString", kv.SetString("user:2", "grace"))
		check("SetString", kv.SetString("other", ""))
		big := strings.Repeat("v", 5000) // past the first getter buffer
		check("Set big", kv.SetString("big", big))

		v, err := kv.Get("user:1")
		check("Get", err)
		s, err := kv.GetString("user:2")
		check("GetString", err)
		empty, err := kv.GetString("other")
		check("GetString empty", err)
		gotBig, err := kv.GetString("big")
		check("GetString big", err)
		if string(v) != "ada" || s != "grace" || empty != "" || gotBig != big {
			t.Errorf("got %q %q %q and %d bytes", v, s, empty, len(gotBig))
		}

		keys, err := kv.List("user:")
		check("List", err)
		if diff := cmp.Diff([]string{"user:1", "user:2"}, keys); diff != "" {
			t.Errorf("List(user:) (-want +got):\n%s", diff)
		}
		keys, err = kv.List("")
		check("List all", err)
		if diff := cmp.Diff([]string{"big", "other", "user:1", "user:2"}, keys); diff != "" {
			t.Errorf("List() (-want +got):\n%s", diff)
		}
		if keys, _ := kv.List("none:"); keys == nil || len(keys) != 0 {
			t.Errorf("List(none:) = %#v, want an empty, non-nil slice", keys)
		}

		check("Delete", kv.Delete("user:1"))
		check("Delete missing", kv.Delete("user:1"))
		if _, err := kv.Get("user:1"); err != kv.ErrNotFound {
			t.Errorf("Get after Delete: %v, want ErrNotFound itself", err)
		}

		for i, want := range []int64{1, 11, -4} {
			n, err := kv.Incr("count", []int64{1, 10, -15}[i])
			check("Incr", err)
			if n != want {
				t.Errorf("Incr #%d = %d, want %d", i, n, want)
			}
		}
		if s, _ := kv.GetString("count"); s != "-4" {
			t.Errorf("count stored as %q, want decimal text -4", s)
		}
	})
	// The namespace outlives the request.
	if v, ok := store.Get("user:2"); !ok || string(v) != "grace" {
		t.Errorf("store.Get(user:2) = %q, %v", v, ok)
	}
	if diff := cmp.Diff([]string{"big", "count", "other", "user:2"}, store.Keys()); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	store.Set("seeded", []byte("by the test"), 0)
	in(store, func() {
		if s, err := kv.GetString("seeded"); s != "by the test" || err != nil {
			t.Errorf("GetString(seeded) = %q, %v", s, err)
		}
	})
}

func TestTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := &routetest.KV{Now: func() time.Time { return now }}
	in(store, func() {
		kv.SetString("short", "x", kv.TTL(time.Millisecond)) // rounds up to 1s
		kv.SetString("minute", "x", kv.TTL(59*time.Second+time.Nanosecond))
		kv.SetString("forever", "x", kv.TTL(0))
		kv.SetString("counter", "5", kv.TTL(10*time.Second))
	})
	advance := func(d time.Duration) { now = now.Add(d) }
	alive := func() []string { return store.Keys() }

	advance(999 * time.Millisecond)
	if diff := cmp.Diff([]string{"counter", "forever", "minute", "short"}, alive()); diff != "" {
		t.Errorf("at 999ms (-want +got):\n%s", diff)
	}
	advance(time.Millisecond)
	in(store, func() {
		if _, err := kv.Get("short"); err != kv.ErrNotFound {
			t.Errorf("Get(short) at 1s: %v, want ErrNotFound", err)
		}
		if keys, _ := kv.List(""); !cmp.Equal([]string{"counter", "forever", "minute"}, keys) {
			t.Errorf("List at 1s = %q: expired keys are left out", keys)
		}
		if n, err := kv.Incr("counter", 1); n != 6 || err != nil { // keeps its expiry
			t.Errorf("Incr = %d, %v", n, err)
		}
	})
	advance(9 * time.Second)
	in(store, func() {
		if n, _ := kv.Incr("counter", 1); n != 1 {
			t.Errorf("Incr after the counter expired = %d, want 1 (a fresh key)", n)
		}
	})
	advance(50 * time.Second)
	if diff := cmp.Diff([]string{"counter", "forever"}, alive()); diff != "" {
		t.Errorf("at 60s (-want +got):\n%s", diff)
	}
}

func TestJSON(t *testing.T) {
	type profile struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	store := &routetest.KV{}
	in(store, func() {
		if err := kv.SetJSON("p", profile{"ada", []string{"math"}}, kv.TTL(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var got profile
		if err := kv.GetJSON("p", &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(profile{"ada", []string{"math"}}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if err := kv.GetJSON("absent", &got); err != kv.ErrNotFound {
			t.Errorf("GetJSON(absent): %v, want ErrNotFound", err)
		}
		kv.SetString("notjson", "{")
		if err := kv.GetJSON("notjson", &got); err == nil {
			t.Error("GetJSON of invalid JSON succeeded")
		}
		if err := kv.SetJSON("f", func() {}); err == nil {
			t.Error("SetJSON of a func succeeded")
		}
	})
	if v, _ := store.Get("p"); string(v) != `{"name":"ada","tags":["math"]}` {
		t.Errorf("stored %s", v)
	}
}

// TestErrors checks each failure's sentinel and the host's explanation.
func TestErrors(t *testing.T) {
	store := &routetest.KV{MaxKeys: 2, MaxValue: 10}
	store.Set("n", []byte("not a number"), 0)
	store.Set("max", []byte("9223372036854775807"), 0)
	tests := []struct {
		name    string
		store   *routetest.KV
		call    func() error
		want    error
		wantMsg string
	}{
		{"empty key", store, func() error { return kv.SetString("", "x") }, kv.ErrInvalid,
			`kv set "": invalid key: empty`},
		{"long key", store, func() error { _, err := kv.Get(strings.Repeat("k", 513)); return err }, kv.ErrInvalid,
			`kv get "` + strings.Repeat("k", 513) + `": invalid key: 513 bytes, over 512`},
		{"key not UTF-8", store, func() error { return kv.Delete("\xff") }, kv.ErrInvalid,
			`kv delete "\xff": invalid key: not UTF-8`},
		{"negative ttl", store, func() error { return kv.SetString("k", "x", kv.TTL(-time.Second)) }, kv.ErrInvalid,
			`kv set "k": ttl -1s is out of range (0 to 2^31-1 seconds)`},
		{"ttl too long", store, func() error { return kv.SetString("k", "x", kv.TTL(math.MaxInt32*time.Second+1)) }, kv.ErrInvalid,
			`kv set "k": ttl 596523h14m7.000000001s is out of range (0 to 2^31-1 seconds)`},
		{"value too large", store, func() error { return kv.SetString("n", "12345678901") }, kv.ErrTooLarge,
			`kv set "n": value too large: 11 bytes, over maxKVValue (10)`},
		{"too many keys", store, func() error { return kv.SetString("third", "x") }, kv.ErrLimit,
			`kv set "third": too many keys: the namespace holds maxKVKeys (2)`},
		{"incr a new key past the limit", store, func() error { _, err := kv.Incr("third", 1); return err }, kv.ErrLimit,
			`kv incr "third": too many keys: the namespace holds maxKVKeys (2)`},
		{"incr not a number", store, func() error { _, err := kv.Incr("n", 1); return err }, kv.ErrInvalid,
			`kv incr "n": not an integer: the value is "not a number"`},
		{"incr overflow", store, func() error { _, err := kv.Incr("max", 1); return err }, kv.ErrInvalid,
			`kv incr "max": not an integer: 9223372036854775807 + 1 overflows int64`},
		{"no store", nil, func() error { _, err := kv.List("p"); return err }, kv.ErrFailed,
			`kv list "p": no key-value store (in a test: set routetest.Request.KV)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			in(tt.store, func() { err = tt.call() })
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want one matching %v", err, tt.want)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message\n%s\nwant\n%s", err, tt.wantMsg)
			}
		})
	}
	// Replacing a key is no new key, even at the limit.
	in(store, func() {
		if err := kv.SetString("n", "1"); err != nil {
			t.Errorf("replacing a key at MaxKeys: %v", err)
		}
	})
}

func ExampleIncr() {
	visits := func(w *route.Response, r *route.Request) {
		n, err := kv.Incr("visits:"+r.Param("slug"), 1)
		if err != nil {
			w.Text(502, err.Error())
			return
		}
		w.JSON(200, map[string]any{"visits": n})
	}
	store := &routetest.KV{}
	for range 2 {
		req := routetest.NewRequest("GET", "/blog/hello", nil)
		req.Params = []routetest.Param{{Name: "slug", Values: []string{"hello"}}}
		req.KV = store
		fmt.Println(string(routetest.Run(visits, req).Body))
	}
	v, _ := store.Get("visits:hello")
	fmt.Println(string(v))
	// Output:
	// {"visits":1}
	// {"visits":2}
	// 2
}

// TestTTLRounding checks whole seconds rounded up, and the range.
func TestTTLRounding(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := &routetest.KV{Now: func() time.Time { return now }}
	tests := []struct {
		ttl     time.Duration
		alive   time.Duration // still there this long after
		expired time.Duration // gone this long after (0: never checked)
		wantErr error
	}{
		{ttl: time.Nanosecond, alive: 999 * time.Millisecond, expired: time.Second},
		{ttl: time.Second, alive: 999 * time.Millisecond, expired: time.Second},
		{ttl: time.Second + 1, alive: 1999 * time.Millisecond, expired: 2 * time.Second},
		{ttl: math.MaxInt32 * time.Second, alive: 68 * 365 * 24 * time.Hour},
		{ttl: math.MaxInt64, wantErr: kv.ErrInvalid},
		{ttl: math.MinInt64, wantErr: kv.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.ttl.String(), func(t *testing.T) {
			var err error
			in(store, func() { err = kv.SetString("k", "v", kv.TTL(tt.ttl)) })
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Set: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			start := now
			now = start.Add(tt.alive)
			if _, ok := store.Get("k"); !ok {
				t.Errorf("gone after %v", tt.alive)
			}
			if tt.expired > 0 {
				now = start.Add(tt.expired)
				if _, ok := store.Get("k"); ok {
					t.Errorf("still there after %v", tt.expired)
				}
			}
			now = start
		})
	}
}
