package host

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/abi"
)

// TestRespond checks respond against the calls it stands for: each refusal
// changes nothing, so that the steps after it see the response as it was.
func TestRespond(t *testing.T) {
	const (
		ok          = abi.OK
		invalid     = abi.ErrInvalid
		headersSent = abi.ErrHeadersSent
		noBody      = abi.ErrBodyNotAllowed
		tooLarge    = abi.ErrTooLarge
	)
	hdrs := func(items ...string) string { return string(list(items...)) }
	many := make([]string, 0, 2*(maxRespondHeaders+1))
	for i := range maxRespondHeaders + 1 {
		many = append(many, fmt.Sprintf("x-%d", i), "v")
	}
	tests := []struct {
		name       string
		maxBytes   int64
		maxHeaders int
		maxHdrSize int
		steps      []step
		want       response
		headSent   bool // before Finish
	}{
		{
			name:     "status, header and body",
			steps:    []step{{abi.FuncRespond, []any{201, hdrs("content-type", "text/plain"), "hi"}, ok}},
			headSent: true,
			want:     response{Status: 201, Body: "hi", Header: http.Header{"Content-Type": {"text/plain"}}},
		},
		{
			name: "status 0 keeps the status set; a header set before is replaced",
			steps: []step{
				{abi.FuncSetStatus, []any{404}, ok},
				{abi.FuncHeaderAdd, []any{"X-A", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"X-A", "2"}, ok},
				{abi.FuncRespond, []any{0, hdrs("x-a", "3", "X-B", "4"), "gone"}, ok},
			},
			headSent: true,
			want:     response{Status: 404, Body: "gone", Header: http.Header{"X-A": {"3"}, "X-B": {"4"}}},
		},
		{
			name: "an empty body leaves the head unsent",
			steps: []step{
				{abi.FuncRespond, []any{202, hdrs("x-a", "1"), ""}, ok},
				{abi.FuncHeaderSet, []any{"x-b", "2"}, ok},
			},
			want: response{Status: 202, Header: http.Header{"X-A": {"1"}, "X-B": {"2"}}},
		},
		{
			name: "nothing at all",
			steps: []step{
				{abi.FuncRespond, []any{0, "", ""}, ok},
			},
			want: response{Status: 200, Header: http.Header{}},
		},
		{
			name: "after the head only a write",
			steps: []step{
				{abi.FuncBodyWrite, []any{"a"}, ok},
				{abi.FuncRespond, []any{200, "", "b"}, headersSent},
				{abi.FuncRespond, []any{0, hdrs("x", "1"), "b"}, headersSent},
				{abi.FuncRespond, []any{0, "", "c"}, ok},
			},
			headSent: true,
			want:     response{Status: 200, Body: "ac", Header: http.Header{}},
		},
		{
			name: "refusals change nothing",
			steps: []step{
				{abi.FuncRespond, []any{199, hdrs("x", "1"), "a"}, invalid},
				{abi.FuncRespond, []any{1000, "", ""}, invalid},
				{abi.FuncRespond, []any{200, hdrs("x"), "a"}, invalid},                          // a name without a value
				{abi.FuncRespond, []any{200, hdrs("x", "1")[:7], "a"}, invalid},                 // a length past the end
				{abi.FuncRespond, []any{200, hdrs("x", "1") + "\x01", "a"}, invalid},            // trailing garbage
				{abi.FuncRespond, []any{200, hdrs("x y", "1"), "a"}, invalid},                   // not a token
				{abi.FuncRespond, []any{200, hdrs("x", "1\r\nY: 2"), "a"}, invalid},             // CR LF
				{abi.FuncRespond, []any{200, hdrs("x", "1", "a", "2", "X", "3"), "a"}, invalid}, // a name twice
				{abi.FuncRespond, []any{200, hdrs(many...), "a"}, invalid},                      // 17 pairs
				{abi.FuncRespond, []any{204, hdrs("x", "1"), "a"}, noBody},
				{abi.FuncRespond, []any{201, hdrs("x", "1"), ""}, ok},
			},
			want: response{Status: 201, Header: http.Header{"X": {"1"}}},
		},
		{
			name: "16 pairs",
			steps: []step{
				{abi.FuncRespond, []any{200, hdrs(many[:2*maxRespondHeaders]...), ""}, ok},
			},
			want: response{Status: 200, Header: func() http.Header {
				h := http.Header{}
				for i := 0; i < 2*maxRespondHeaders; i += 2 {
					h.Set(many[i], many[i+1])
				}
				return h
			}()},
		},
		{
			name: "a status without a body, set before",
			steps: []step{
				{abi.FuncSetStatus, []any{304}, ok},
				{abi.FuncRespond, []any{0, hdrs("x", "1"), "a"}, noBody},
				{abi.FuncRespond, []any{200, hdrs("x", "1"), "a"}, ok},
			},
			headSent: true,
			want:     response{Status: 200, Body: "a", Header: http.Header{"X": {"1"}}},
		},
		{
			name:     "response limit",
			maxBytes: 3,
			steps: []step{
				{abi.FuncRespond, []any{201, hdrs("x", "1"), "abcd"}, tooLarge},
				{abi.FuncRespond, []any{202, hdrs("y", "2"), "abc"}, ok},
				{abi.FuncRespond, []any{0, "", "d"}, tooLarge},
			},
			headSent: true,
			want:     response{Status: 202, Body: "abc", Header: http.Header{"Y": {"2"}}},
		},
		{
			name:       "header count, after the whole list",
			maxHeaders: 2,
			steps: []step{
				{abi.FuncHeaderAdd, []any{"a", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"a", "2"}, ok},
				{abi.FuncRespond, []any{201, hdrs("b", "1"), "x"}, tooLarge},
				{abi.FuncRespond, []any{201, hdrs("b", "1", "a", "3"), "x"}, ok}, // a's two values go
			},
			headSent: true,
			want:     response{Status: 201, Body: "x", Header: http.Header{"A": {"3"}, "B": {"1"}}},
		},
		{
			name:       "header bytes",
			maxHdrSize: 4,
			steps: []step{
				{abi.FuncRespond, []any{0, hdrs("ab", "123"), ""}, tooLarge},
				{abi.FuncRespond, []any{0, hdrs("ab", "12"), ""}, ok},
				{abi.FuncHeaderAdd, []any{"c", ""}, tooLarge},
				{abi.FuncRespond, []any{0, hdrs("ab", "1", "c", ""), ""}, ok},
			},
			want: response{Status: 200, Header: http.Header{"Ab": {"1"}, "C": {""}}},
		},
	}
	mod := newGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r, params := testRequest()
			e := NewExchange(rec, r, params)
			e.MaxResponseBytes = tc.maxBytes
			e.MaxHeaders = tc.maxHeaders
			e.MaxHeaderBytes = tc.maxHdrSize
			run(t, mod, e, tc.steps)
			if got := e.HeadSent(); got != tc.headSent {
				t.Errorf("HeadSent() = %v before Finish, want %v", got, tc.headSent)
			}
			if err := e.Finish(); err != nil {
				t.Errorf("Finish: %v", err)
			}
			got := response{rec.Code, rec.Result().Header, rec.Body.String(), rec.Flushed}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRespondHead checks that respond drops a HEAD request's body as
// body_write does, and that Finish then sends its length.
func TestRespondHead(t *testing.T) {
	mod := newGuest(t)
	rec := httptest.NewRecorder()
	r, params := testRequest()
	r.Method = http.MethodHead
	e := NewExchange(rec, r, params)
	run(t, mod, e, []step{{abi.FuncRespond, []any{200, string(list("content-type", "text/plain")), "hello"}, abi.OK}})
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	want := response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"5"}}}
	if diff := cmp.Diff(want, response{rec.Code, rec.Result().Header, rec.Body.String(), rec.Flushed}); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}
