package route

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/standin"
)

// TestFetchedOnce checks that each value is asked of the host once: a change
// made on the host side afterwards is not seen.
func TestFetchedOnce(t *testing.T) {
	x := &standin.Exchange{
		Method: "GET", Path: "/a", Query: "q=1", Protocol: "HTTP/1.1", RemoteAddr: "192.0.2.1:1",
		Header: []standin.Field{{Name: "X-A", Value: "1"}, {Name: "Cookie", Value: "c=1"}},
		Params: []standin.Param{{Name: "p", Values: []string{"v"}}},
	}
	read := func(r *Request) []string {
		c, _ := r.Cookie("c")
		return []string{r.Method(), r.Path(), r.RawQuery(), r.Query().Get("q"), r.Protocol(), r.RemoteAddr(),
			r.Header("x-a"), strings.Join(r.HeaderNames(), ","), r.Param("p"), strings.Join(r.ParamNames(), ","), c}
	}
	var first, second []string
	standin.Run(x, func() {
		r := &Request{}
		first = read(r)
		*x = standin.Exchange{
			Method: "PUT", Path: "/b", Query: "q=2", Protocol: "HTTP/2.0", RemoteAddr: "192.0.2.2:2",
			Header: []standin.Field{{Name: "X-A", Value: "2"}, {Name: "X-B", Value: "2"}, {Name: "Cookie", Value: "c=2"}},
			Params: []standin.Param{{Name: "p", Values: []string{"w"}}, {Name: "q"}},
		}
		second = read(r)
	})
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second reads differ (-first +second):\n%s", diff)
	}
}

// TestFetchGrows checks the getter protocol: a value longer than the buffer
// costs one more call with a buffer that fits, and Serve hands the grown
// buffer on to the next request.
func TestFetchGrows(t *testing.T) {
	long := strings.Repeat("x", 3000)
	x := &standin.Exchange{Path: long}
	var calls []int // buffer length of each call
	path := func(buf []byte) uint32 {
		calls = append(calls, len(buf))
		return standin.Path(buf)
	}
	standin.Run(x, func() {
		spare = nil
		Serve(func(w *Response, r *Request) {
			if got := string(r.fetch(path)); got != long {
				t.Errorf("fetched %d bytes, want %d", len(got), len(long))
			}
			if got := string(r.fetch(path)); got != long {
				t.Errorf("fetched %d bytes again, want %d", len(got), len(long))
			}
		})
		if diff := cmp.Diff([]int{512, 3000, 3000}, calls); diff != "" {
			t.Errorf("buffer lengths (-want +got):\n%s", diff)
		}
		Serve(func(w *Response, r *Request) {
			if cap(r.buf) < len(long) {
				t.Errorf("next request's buffer has cap %d, want >= %d", cap(r.buf), len(long))
			}
		})
	})
}

func TestFetchList(t *testing.T) {
	tests := []struct {
		name string
		list []byte
		want []string
	}{
		{"empty", nil, nil},
		{"items", abi.AppendItem(abi.AppendItem(abi.AppendItem(nil, "text/html"), ""), "*/*"), []string{"text/html", "", "*/*"}},
		{"truncated item", append(abi.AppendItem(nil, "ok"), 9, 0, 0, 0, 'x'), []string{"ok"}},
		{"truncated length", append(abi.AppendItem(nil, "ok"), 1, 0), []string{"ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Request{}
			got := r.fetchList(func(buf []byte) uint32 {
				if len(tt.list) <= len(buf) {
					copy(buf, tt.list)
				}
				return uint32(len(tt.list))
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
