package standin

import (
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/abi"
)

// mapNS is a minimal Namespace whose Get answers from a function, so that a
// test can change the value between two calls.
type mapNS struct {
	get func(key string) ([]byte, error)
}

func (m mapNS) Get(key string) ([]byte, error)         { return m.get(key) }
func (mapNS) Set(string, []byte, time.Duration) error  { return nil }
func (mapNS) Delete(string) error                      { return nil }
func (mapNS) List(prefix string) ([]string, error)     { return []string{prefix + "a", prefix + "b"}, nil }
func (mapNS) Incr(key string, by int64) (int64, error) { return 40 + by, nil }

func list(items ...string) []byte {
	var b []byte
	for _, it := range items {
		b = abi.AppendItem(b, it)
	}
	return b
}

// TestKVGetterKeepsValue checks that the second call of a getter whose
// buffer was too small gets the value the first call measured, even if the
// store changed in between (ABI.md: "kept for the second call").
func TestKVGetterKeepsValue(t *testing.T) {
	version := 0
	x := &Exchange{KV: mapNS{get: func(string) ([]byte, error) {
		version++
		return []byte(strings.Repeat("v", 10) + string(rune('0'+version))), nil
	}}}
	Run(x, func() {
		small := make([]byte, 4)
		if n := KVGet("k", small); n != 11 || string(small) != "\x00\x00\x00\x00" {
			t.Errorf("first call: %d, wrote %q; want 11 and nothing written", n, small)
		}
		buf := make([]byte, 11)
		if n := KVGet("k", buf); n != 11 || string(buf) != "vvvvvvvvvv1" {
			t.Errorf("second call: %d %q, want the kept value", n, buf)
		}
		if n := KVGet("k", buf); n != 11 || string(buf) != "vvvvvvvvvv2" {
			t.Errorf("third call: %d %q, want a fresh read", n, buf)
		}
		if n := KVList("p:", buf[:0]); n != int32(len(list("p:a", "p:b"))) {
			t.Errorf("KVList measured %d", n)
		}
		lb := make([]byte, 64)
		n := KVList("p:", lb)
		if diff := cmp.Diff(list("p:a", "p:b"), lb[:n]); diff != "" {
			t.Errorf("KVList (-want +got):\n%s", diff)
		}
		inout := binary.LittleEndian.AppendUint64(nil, 2)
		if code := KVIncr("c", inout); code != abi.OK || binary.LittleEndian.Uint64(inout) != 42 {
			t.Errorf("KVIncr: %d, inout %v", code, inout)
		}
	})
}

func TestErrorMessage(t *testing.T) {
	x := &Exchange{}
	Run(x, func() {
		buf := make([]byte, 256)
		if n := ErrorMessage(buf); n != 0 {
			t.Errorf("before any error: %d bytes", n)
		}
		KVDelete("k")
		n := ErrorMessage(buf)
		if want := `kv delete "k": no key-value store (in a test: set routetest.Request.KV)`; string(buf[:n]) != want {
			t.Errorf("message %q, want %q", buf[:n], want)
		}
	})
	if n := ErrorMessage(make([]byte, 8)); n != 0 {
		t.Errorf("outside Run: %d bytes", n)
	}
}

func TestFetchABI(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	x := &Exchange{Fetch: func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/hold" {
			<-hold
		}
		return &http.Response{StatusCode: 200, Header: http.Header{"X-A": {"1"}}, Body: io.NopCloser(strings.NewReader("body"))}, nil
	}}
	Run(x, func() {
		h := FetchStart(list("GET", "https://x.test/hold"), nil, 0)
		if h != 1 {
			t.Fatalf("FetchStart = %d", h)
		}
		tests := []struct {
			name string
			got  int32
			want int32
		}{
			{"malformed list", FetchStart([]byte{9, 0, 0, 0, 'G'}, nil, 0), abi.ErrInvalid},
			{"odd header list", FetchStart(list("GET", "https://x.test/", "x-a"), nil, 0), abi.ErrInvalid},
			{"poll: count over 1024", FetchPoll(make([]uint32, 1025), 0), abi.ErrInvalid},
			{"poll: no handles, no timeout", FetchPoll(nil, -1), abi.ErrInvalid},
			{"poll: no handles, a timeout sleeps", FetchPoll(nil, 1), abi.ErrPending},
			{"poll: unknown handle", FetchPoll([]uint32{1, 99}, 0), abi.ErrInvalid},
			{"poll: timeout", FetchPoll([]uint32{1}, 5), abi.ErrPending},
			{"head: pending", FetchHead(1, nil), abi.ErrPending},
			{"body before the head", FetchBodyRead(1, make([]byte, 4)), abi.ErrInvalid},
			{"head: unknown handle", FetchHead(7, nil), abi.ErrInvalid},
			{"close: unknown handle", FetchClose(7), abi.ErrInvalid},
			{"close", FetchClose(1), abi.OK},
			{"close twice", FetchClose(1), abi.ErrInvalid},
		}
		for _, tt := range tests {
			if tt.got != tt.want {
				t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
			}
		}

		h = FetchStart(list("GET", "https://x.test/", "Connection", "close", "X-B", "2"), nil, 0)
		if i := FetchPoll([]uint32{uint32(h)}, -1); i != 0 {
			t.Fatalf("poll = %d", i)
		}
		want := list("200", "https://x.test/", "x-a", "1")
		if n := FetchHead(h, make([]byte, 3)); n != int32(len(want)) {
			t.Errorf("head measured %d, want %d", n, len(want))
		}
		buf := make([]byte, len(want))
		FetchHead(h, buf)
		if diff := cmp.Diff(want, buf); diff != "" {
			t.Errorf("head (-want +got):\n%s", diff)
		}
		if n := FetchBodyRead(h, nil); n != 0 {
			t.Errorf("body read of 0 bytes = %d", n)
		}
	})
	// Every handle is closed when the request ends.
	if len(x.svc.fetches) != 0 {
		t.Errorf("%d handles open after Run", len(x.svc.fetches))
	}
}

func TestFetchFailsCleanlyOutsideRun(t *testing.T) {
	if code := FetchStart(list("GET", "https://x.test/"), nil, 0); code != abi.ErrDenied {
		t.Errorf("FetchStart outside Run = %d", code)
	}
	if code := KVSet("k", nil, 0); code != abi.ErrFailed {
		t.Errorf("KVSet outside Run = %d", code)
	}
}
