package host

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/kv"
)

// Where the kv tests lay out their arguments in guest memory.
const (
	kvKeyAt   = 0x10
	kvValueAt = 0x400
	kvBufAt   = 0x1000
	kvInoutAt = 0x2000
)

// kvStore opens an embedded store in a temporary folder.
func kvStore(t testing.TB) *kv.Store {
	t.Helper()
	st, err := kv.Open(context.Background(), kv.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func kvNamespace(t testing.TB, st *kv.Store, name string, lim kv.Limits) kv.Namespace {
	t.Helper()
	ns, err := st.Namespace(name, lim)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// kvExchange returns an Exchange whose KV is ns, and the context to call
// host functions with.
func kvExchange(ns kv.Namespace) (*Exchange, context.Context) {
	r, params := testRequest()
	e := NewExchange(httptest.NewRecorder(), r, params)
	e.KV = ns
	return e, WithExchange(context.Background(), e)
}

// kvCall calls a kv function with key (or prefix) at kvKeyAt; the other
// arguments are as given. It fails t on a trap.
func kvCall(t *testing.T, ctx context.Context, mod api.Module, fn, key string, args ...uint32) int32 {
	t.Helper()
	mem, _ := mod.Memory().Read(0, memSize)
	copy(mem[kvKeyAt:], key)
	got, err := call(ctx, fnByName(fn).fn, mod, append([]uint32{kvKeyAt, uint32(len(key))}, args...)...)
	if err != nil {
		t.Fatalf("%s(%q): %v", fn, key, err)
	}
	return got
}

// errorMessage returns what error_message gives the guest.
func errorMessage(t *testing.T, ctx context.Context, mod api.Module) string {
	t.Helper()
	n, err := call(ctx, errorMessageFn, mod, kvBufAt, 0x1000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := mod.Memory().Read(kvBufAt, uint32(n))
	return string(b)
}

func setInout(mod api.Module, v int64) {
	mod.Memory().WriteUint64Le(kvInoutAt, uint64(v))
}

func inout(mod api.Module) int64 {
	v, _ := mod.Memory().ReadUint64Le(kvInoutAt)
	return int64(v)
}

// TestKV runs the kv functions against an embedded namespace, step by
// step: results, what each wrote, and error_message after each error.
func TestKV(t *testing.T) {
	mod := newGuest(t)
	st := kvStore(t)
	ns := kvNamespace(t, st, "tenant", kv.Limits{MaxKeys: 4, MaxValue: 8})
	_, ctx := kvExchange(ns)
	long := strings.Repeat("k", kv.MaxKey)
	type step struct {
		fn, key string
		value   string // kv_set's value
		ttl     uint32 // kv_set's
		by      int64  // kv_incr's inout on the call
		bufLen  uint32 // kv_get's and kv_list's
		want    int32
		wrote   string // kv_get's and kv_list's buffer, kv_incr's inout (decimal) after the call
		msg     string // error_message after an error
	}
	steps := []step{
		{fn: abi.FuncKVGet, key: "k", bufLen: 16, want: abi.ErrNotFound, msg: `kv get "k": no such key`},
		{fn: abi.FuncKVSet, key: "k", value: "hello", want: abi.OK},
		{fn: abi.FuncKVGet, key: "k", bufLen: 16, want: 5, wrote: "hello"},
		{fn: abi.FuncKVGet, key: "k", bufLen: 5, want: 5, wrote: "hello"},
		{fn: abi.FuncKVSet, key: "k", value: "", want: abi.OK},
		{fn: abi.FuncKVGet, key: "k", bufLen: 0, want: 0},
		{fn: abi.FuncKVSet, key: "k", value: "bin\x00\xff", ttl: 0xFFFFFFFF, want: abi.OK}, // ttl is unsigned
		{fn: abi.FuncKVGet, key: "k", bufLen: 16, want: 5, wrote: "bin\x00\xff"},
		{fn: abi.FuncKVSet, key: "big", value: "123456789", want: abi.ErrTooLarge, msg: `kv set "big": value too large: 9 bytes, over maxKVValue (8)`},
		{fn: abi.FuncKVIncr, key: "n", by: 40, want: abi.OK, wrote: "40"},
		{fn: abi.FuncKVIncr, key: "n", by: 2, want: abi.OK, wrote: "42"},
		{fn: abi.FuncKVIncr, key: "n", by: -50, want: abi.OK, wrote: "-8"},
		{fn: abi.FuncKVGet, key: "n", bufLen: 16, want: 2, wrote: "-8"},
		{fn: abi.FuncKVIncr, key: "k", by: 1, want: abi.ErrInvalid, wrote: "1", msg: `kv incr "k": not an integer: the value is not a decimal int64`},
		{fn: abi.FuncKVSet, key: "max", value: "9223372036854775807"[:8], want: abi.OK},
		{fn: abi.FuncKVList, key: "", bufLen: 64, want: int32(len(list("k", "max", "n"))), wrote: string(list("k", "max", "n"))},
		{fn: abi.FuncKVList, key: "m", bufLen: 64, want: 7, wrote: string(list("max"))},
		{fn: abi.FuncKVList, key: "\xff", bufLen: 64, want: 0}, // a prefix may be any bytes
		{fn: abi.FuncKVList, key: long + "k", bufLen: 64, want: 0},
		{fn: abi.FuncKVSet, key: long, value: "max key", want: abi.OK},
		{fn: abi.FuncKVSet, key: "fifth", value: "1", want: abi.ErrLimit, msg: `kv set "fifth": too many keys: a new key would take namespace tenant past maxKVKeys (4)`},
		{fn: abi.FuncKVIncr, key: "fifth", by: 1, want: abi.ErrLimit, wrote: "1", msg: `kv incr "fifth": too many keys: a new key would take namespace tenant past maxKVKeys (4)`},
		{fn: abi.FuncKVDelete, key: "max", want: abi.OK},
		{fn: abi.FuncKVDelete, key: "max", want: abi.OK}, // missing: OK
		{fn: abi.FuncKVSet, key: "fifth", value: "1", ttl: 60, want: abi.OK},
		{fn: abi.FuncKVGet, key: "max", bufLen: 16, want: abi.ErrNotFound, msg: `kv get "max": no such key`},
	}
	// Bad keys, for every function but kv_list (whose prefix may be any
	// bytes, and of any length).
	for _, bad := range []struct{ key, msg string }{
		{"", `kv %s: empty key (a key is 1 to 512 bytes of UTF-8)`},
		{long + "k", `kv %s "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"…: a key of 513 bytes, over 512`},
		{"a\xff", `kv %s "a\xff": the key is not UTF-8`},
		{"\xc3", `kv %s "\xc3": the key is not UTF-8`},
	} {
		for _, s := range []step{
			{fn: abi.FuncKVGet, bufLen: 16},
			{fn: abi.FuncKVSet, value: "v"},
			{fn: abi.FuncKVDelete},
			{fn: abi.FuncKVIncr, by: 7, wrote: "7"},
		} {
			s.key, s.want, s.msg = bad.key, abi.ErrInvalid, fmt.Sprintf(bad.msg, strings.TrimPrefix(s.fn, "kv_"))
			steps = append(steps, s)
		}
	}
	for i, s := range steps {
		reset(mod)
		setInout(mod, s.by)
		copy(mustRead(mod, kvValueAt, uint32(len(s.value))), s.value)
		var got int32
		switch s.fn {
		case abi.FuncKVGet, abi.FuncKVList:
			got = kvCall(t, ctx, mod, s.fn, s.key, kvBufAt, s.bufLen)
		case abi.FuncKVSet:
			got = kvCall(t, ctx, mod, s.fn, s.key, kvValueAt, uint32(len(s.value)), s.ttl)
		case abi.FuncKVDelete:
			got = kvCall(t, ctx, mod, s.fn, s.key)
		case abi.FuncKVIncr:
			got = kvCall(t, ctx, mod, s.fn, s.key, kvInoutAt)
		}
		if got != s.want {
			t.Errorf("step %d: %s(%.20q) = %d, want %d", i, s.fn, s.key, got, s.want)
		}
		switch s.fn {
		case abi.FuncKVIncr:
			if got := fmt.Sprint(inout(mod)); got != s.wrote {
				t.Errorf("step %d: %s(%q) left inout %s, want %s", i, s.fn, s.key, got, s.wrote)
			}
		case abi.FuncKVGet, abi.FuncKVList:
			if got := mustRead(mod, kvBufAt, uint32(len(s.wrote))); string(got) != s.wrote {
				t.Errorf("step %d: %s(%q) wrote %q, want %q", i, s.fn, s.key, got, s.wrote)
			}
		}
		if s.msg != "" {
			if got := errorMessage(t, ctx, mod); got != s.msg {
				t.Errorf("step %d: %s(%.20q): error_message %q, want %q", i, s.fn, s.key, got, s.msg)
			}
		}
	}
	// What the guest wrote, the store has.
	for key, want := range map[string]string{"n": "-8", "k": "bin\x00\xff", long: "max key", "fifth": "1"} {
		if got, err := ns.Get(context.Background(), key); err != nil || string(got) != want {
			t.Errorf("the store's %.20q = %q, %v; want %q", key, got, err, want)
		}
	}
}

func mustRead(mod api.Module, at, n uint32) []byte {
	b, ok := mod.Memory().Read(at, n)
	if !ok {
		panic("outside memory")
	}
	return b
}

// TestKVNoStore: without a namespace every kv call fails, saying why; a
// bad key is still a bad key.
func TestKVNoStore(t *testing.T) {
	mod := newGuest(t)
	e, ctx := kvExchange(nil)
	for _, tc := range []struct {
		fn   string
		args []uint32
	}{
		{abi.FuncKVGet, []uint32{kvBufAt, 16}},
		{abi.FuncKVSet, []uint32{kvValueAt, 1, 0}},
		{abi.FuncKVDelete, nil},
		{abi.FuncKVList, []uint32{kvBufAt, 16}},
		{abi.FuncKVIncr, []uint32{kvInoutAt}},
	} {
		e.errMsg = ""
		if got := kvCall(t, ctx, mod, tc.fn, "k", tc.args...); got != abi.ErrFailed {
			t.Errorf("%s without a store = %d, want ErrFailed", tc.fn, got)
		}
		if got, want := errorMessage(t, ctx, mod), "no key-value store is configured"; got != want {
			t.Errorf("%s without a store: error_message %q, want %q", tc.fn, got, want)
		}
		if tc.fn != abi.FuncKVList {
			if got := kvCall(t, ctx, mod, tc.fn, "", tc.args...); got != abi.ErrInvalid {
				t.Errorf("%s of an empty key without a store = %d, want ErrInvalid", tc.fn, got)
			}
		}
	}
}

// TestKVDeadline: a call past Exchange.Deadline fails with ErrFailed, and
// writes nothing.
func TestKVDeadline(t *testing.T) {
	mod := newGuest(t)
	ns := kvNamespace(t, kvStore(t), "late", kv.Limits{})
	e, ctx := kvExchange(ns)
	e.Deadline = time.Now().Add(-time.Millisecond)
	reset(mod)
	setInout(mod, 1)
	for _, tc := range []struct {
		fn   string
		args []uint32
	}{
		{abi.FuncKVSet, []uint32{kvValueAt, 1, 0}},
		{abi.FuncKVIncr, []uint32{kvInoutAt}},
		{abi.FuncKVDelete, nil},
		{abi.FuncKVGet, []uint32{kvBufAt, 16}},
		{abi.FuncKVList, []uint32{kvBufAt, 16}},
	} {
		if got := kvCall(t, ctx, mod, tc.fn, "k", tc.args...); got != abi.ErrFailed {
			t.Errorf("%s past the deadline = %d, want ErrFailed", tc.fn, got)
		}
		if got := errorMessage(t, ctx, mod); !strings.HasSuffix(got, "context deadline exceeded") {
			t.Errorf("%s past the deadline: error_message %q", tc.fn, got)
		}
	}
	if keys, err := ns.List(context.Background(), ""); err != nil || len(keys) != 0 {
		t.Errorf("the namespace holds %q, %v after writes past the deadline", keys, err)
	}
	e.End() // the request ends; the next has time left
	e.Deadline = time.Now().Add(time.Minute)
	if got := kvCall(t, ctx, mod, abi.FuncKVIncr, "k", kvInoutAt); got != abi.OK || inout(mod) != 1 {
		t.Errorf("kv_incr before the deadline = %d, inout %d", got, inout(mod))
	}
}

// TestKVGetterKeeps holds the getter protocol: a value (or list) too large
// for the buffer is kept for the next call with the same key, even if the
// store changed in between; a call that fits reads the store; a write by
// the guest, another key or Reset forget what was kept.
func TestKVGetterKeeps(t *testing.T) {
	mod := newGuest(t)
	st := kvStore(t)
	ns := kvNamespace(t, st, "keeps", kv.Limits{})
	e, ctx := kvExchange(ns)
	bg := context.Background()
	set := func(key, value string) {
		t.Helper()
		if err := ns.Set(bg, key, []byte(value), 0); err != nil {
			t.Fatal(err)
		}
	}
	get := func(key string, bufLen uint32, want int32, wrote string) {
		t.Helper()
		reset(mod)
		if got := kvCall(t, ctx, mod, abi.FuncKVGet, key, kvBufAt, bufLen); got != want {
			t.Errorf("kv_get(%q, buf_len %d) = %d, want %d", key, bufLen, got, want)
		}
		checkMemory(t, mod, region{kvKeyAt, []byte(key)}, region{kvBufAt, []byte(wrote)})
	}
	set("k", "hello")
	get("k", 2, 5, "") // too small: kept
	set("k", "changed!")
	get("k", 2, 5, "")          // still too small: still kept
	get("k", 16, 5, "hello")    // fits: the kept value, now forgotten
	get("k", 16, 8, "changed!") // fits: the store

	get("k", 0, 8, "")
	set("other", "o")
	get("other", 16, 1, "o") // another key: forgets k's
	set("k", "third")
	get("k", 16, 5, "third")

	get("k", 0, 5, "")
	reset(mod, region{kvValueAt, []byte("mine")})
	if got := kvCall(t, ctx, mod, abi.FuncKVSet, "k", kvValueAt, 4, 0); got != abi.OK {
		t.Fatalf("kv_set = %d", got)
	}
	get("k", 16, 4, "mine") // the guest reads its own write

	get("k", 0, 4, "")
	if err := ns.Delete(bg, "k"); err != nil {
		t.Fatal(err)
	}
	get("k", 16, 4, "mine")           // kept, though deleted since
	get("k", 16, abi.ErrNotFound, "") // the store

	// kv_list keeps the same way.
	listCall := func(prefix string, bufLen uint32, want []byte) {
		t.Helper()
		reset(mod)
		n := int32(len(want))
		if got := kvCall(t, ctx, mod, abi.FuncKVList, prefix, kvBufAt, bufLen); got != n {
			t.Errorf("kv_list(%q, buf_len %d) = %d, want %d", prefix, bufLen, got, n)
		}
		if uint32(n) > bufLen {
			want = nil
		}
		checkMemory(t, mod, region{kvKeyAt, []byte(prefix)}, region{kvBufAt, want})
	}
	set("a1", "")
	listCall("a", 4, list("a1"))
	set("a2", "")
	listCall("a", 64, list("a1"))
	listCall("a", 64, list("a1", "a2"))

	// Reset: the next request (here another tenant's namespace) never sees
	// what the last one kept.
	get("other", 0, 1, "")
	listCall("", 0, list("a1", "a2", "other"))
	e.errMsg = "left over"
	e.Reset(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
	e.KV = kvNamespace(t, st, "another-tenant", kv.Limits{})
	get("other", 16, abi.ErrNotFound, "")
	listCall("", 64, nil)
	set("other", "not seen: another namespace")
	if err := e.KV.Set(bg, "other", []byte("theirs"), 0); err != nil {
		t.Fatal(err)
	}
	get("other", 16, 6, "theirs")
}

// TestKVOutOfBounds: a range outside memory traps before the namespace is
// consulted, inout (8 bytes) included.
func TestKVOutOfBounds(t *testing.T) {
	mod := newGuest(t)
	bad := []struct{ ptr, n uint32 }{{memSize, 1}, {memSize - 1, 2}, {0xFFFFFFF0, 0x20}, {0, memSize + 1}}
	for _, f := range hostFuncs {
		if !strings.HasPrefix(f.name, "kv_") {
			continue
		}
		valid := make([]uint32, len(f.params))
		for _, i := range pointerPairs(f) {
			valid[i], valid[i+1] = kvKeyAt, 1
		}
		type badArgs struct {
			name string
			args []uint32
			msg  string
		}
		var cases []badArgs
		for _, at := range pointerPairs(f) {
			for _, b := range bad {
				args := append([]uint32(nil), valid...)
				args[at], args[at+1] = b.ptr, b.n
				cases = append(cases, badArgs{fmt.Sprintf("%s=%#x,%#x", f.params[at], b.ptr, b.n), args,
					fmt.Sprintf("wasmroute_v1.%s: %s [%d, +%d) is outside memory (65536 bytes)", f.name, f.params[at], b.ptr, b.n)})
			}
		}
		if f.name == abi.FuncKVIncr {
			for _, ptr := range []uint32{memSize - 7, memSize, 0xFFFFFFF9, 0xFFFFFFFF} {
				args := append([]uint32(nil), valid...)
				args[2] = ptr
				cases = append(cases, badArgs{fmt.Sprintf("inout=%#x", ptr), args,
					fmt.Sprintf("wasmroute_v1.kv_incr: inout [%d, +8) is outside memory (65536 bytes)", ptr)})
			}
		}
		for _, c := range cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				_, ctx := kvExchange(consulted{t})
				reset(mod, region{kvKeyAt, []byte("k")})
				_, err := call(ctx, f.fn, mod, c.args...)
				if err == nil || err.Error() != c.msg {
					t.Errorf("got error %v, want trap %q", err, c.msg)
				}
				checkMemory(t, mod, region{kvKeyAt, []byte("k")})
			})
		}
	}
	// The last 8 bytes of memory are a valid inout.
	ns := kvNamespace(t, kvStore(t), "edge", kv.Limits{})
	_, ctx := kvExchange(ns)
	reset(mod)
	binary.LittleEndian.PutUint64(mustRead(mod, memSize-8, 8), 3)
	mem := mustRead(mod, 0, memSize)
	copy(mem[kvKeyAt:], "k")
	if got, err := call(ctx, kvIncrFn, mod, kvKeyAt, 1, memSize-8); err != nil || got != abi.OK || binary.LittleEndian.Uint64(mem[memSize-8:]) != 3 {
		t.Errorf("kv_incr with inout at the end of memory: %d, %v", got, err)
	}
}

// consulted is a kv.Namespace that fails its test when called.
type consulted struct{ t *testing.T }

func (c consulted) Get(context.Context, string) ([]byte, error) {
	c.t.Error("the namespace was consulted")
	return nil, nil
}

func (c consulted) Set(context.Context, string, []byte, time.Duration) error {
	c.t.Error("the namespace was consulted")
	return nil
}

func (c consulted) Delete(context.Context, string) error {
	c.t.Error("the namespace was consulted")
	return nil
}

func (c consulted) List(context.Context, string) ([]string, error) {
	c.t.Error("the namespace was consulted")
	return nil, nil
}

func (c consulted) Incr(context.Context, string, int64) (int64, error) {
	c.t.Error("the namespace was consulted")
	return 0, nil
}

// BenchmarkKVGet reads a 64-byte value of an embedded namespace through
// kv_get (with a buffer large enough: one call), against the namespace's
// Get called natively: the host function's own cost.
func BenchmarkKVGet(b *testing.B) {
	mod := newGuest(b)
	ns := kvNamespace(b, kvStore(b), "bench", kv.Limits{})
	ctx := context.Background()
	if err := ns.Set(ctx, "key", []byte(strings.Repeat("v", 64)), 0); err != nil {
		b.Fatal(err)
	}
	b.Run("native", func(b *testing.B) {
		buf := make([]byte, 256)
		b.ReportAllocs()
		for b.Loop() {
			v, err := ns.Get(ctx, "key")
			if err != nil {
				b.Fatal(err)
			}
			copy(buf, v)
		}
	})
	b.Run("host", func(b *testing.B) {
		_, hctx := kvExchange(ns)
		reset(mod, region{kvKeyAt, []byte("key")})
		stack := make([]uint64, 4)
		b.ReportAllocs()
		for b.Loop() {
			stack[0], stack[1], stack[2], stack[3] = kvKeyAt, 3, kvBufAt, 256
			kvGetFn(hctx, mod, stack)
			if int32(stack[0]) != 64 {
				b.Fatalf("kv_get = %d", int32(stack[0]))
			}
		}
	})
}
