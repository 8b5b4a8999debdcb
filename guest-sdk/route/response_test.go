package route_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

func TestResponse(t *testing.T) {
	type answer struct {
		Status  int
		Header  http.Header
		Body    string
		Flushes []int
	}
	tests := []struct {
		name    string
		req     *routetest.Request // nil: GET /
		handler func(w *route.Response, r *route.Request, ret func(error))
		want    answer
		errs    []error // what the handler's calls returned, in order
	}{
		{
			name:    "nothing written",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {},
			want:    answer{Status: 200, Header: http.Header{}},
		},
		{
			name: "JSON",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.JSON(201, map[string]any{"message": "hello <&>", "n": 1}))
			},
			want: answer{Status: 201, Header: http.Header{"Content-Type": {"application/json"}},
				Body: `{"message":"hello <&>","n":1}`},
			errs: []error{nil},
		},
		{
			name: "JSON keeps a Content-Type already set",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.SetHeader("content-type", "application/problem+json"))
				ret(w.JSON(400, map[string]string{"title": "bad"}))
			},
			want: answer{Status: 400, Header: http.Header{"Content-Type": {"application/problem+json"}},
				Body: `{"title":"bad"}`},
			errs: []error{nil, nil},
		},
		{
			name: "JSON that cannot be encoded changes nothing",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				var unsupported *json.UnsupportedTypeError
				if err := w.JSON(201, map[string]any{"f": func() {}}); !errors.As(err, &unsupported) {
					ret(fmt.Errorf("JSON returned %v, want an encoding error", err))
				}
				ret(w.Text(500, "oops"))
			},
			want: answer{Status: 500, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
				Body: "oops"},
			errs: []error{nil},
		},
		{
			name: "Text",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.Text(418, "short and stout"))
			},
			want: answer{Status: 418, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
				Body: "short and stout"},
			errs: []error{nil},
		},
		{
			name: "Redirect",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.Redirect("/api/hello"))
			},
			want: answer{Status: 307, Header: http.Header{"Location": {"/api/hello"}}},
			errs: []error{nil},
		},
		{
			name: "PermanentRedirect",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.PermanentRedirect("https://example.com/new?a=1"))
			},
			want: answer{Status: 308, Header: http.Header{"Location": {"https://example.com/new?a=1"}}},
			errs: []error{nil},
		},
		{
			name: "Redirect to a URL with a newline",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.Redirect("/a\r\nSet-Cookie: x=1"))
			},
			want: answer{Status: 307, Header: http.Header{}},
			errs: []error{route.ErrInvalid},
		},
		{
			name: "NotFound",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.NotFound())
			},
			want: answer{Status: 404, Header: http.Header{}},
			errs: []error{nil},
		},
		{
			name: "NotFound with a body",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.NotFound())
				ret(w.JSON(404, map[string]string{"error": "no such post"}))
			},
			want: answer{Status: 404, Header: http.Header{"Content-Type": {"application/json"}},
				Body: `{"error":"no such post"}`},
			errs: []error{nil, nil},
		},
		{
			name: "headers set, added, deleted",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.SetHeader("X-One", "1"))
				ret(w.SetHeader("x-one", "2")) // replaces, any case
				ret(w.AddHeader("Vary", "Accept"))
				ret(w.AddHeader("Vary", "Cookie"))
				ret(w.SetHeader("X-Gone", "soon"))
				ret(w.DelHeader("x-gone"))
				ret(w.DelHeader("X-Never-Set"))
				ret(w.SetHeader("X-Empty", ""))
			},
			want: answer{Status: 200, Header: http.Header{
				"X-One": {"2"}, "Vary": {"Accept", "Cookie"}, "X-Empty": {""},
			}},
			errs: []error{nil, nil, nil, nil, nil, nil, nil, nil},
		},
		{
			name: "invalid arguments",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.Status(199))
				ret(w.Status(1000))
				ret(w.Status(-200))
				ret(w.Status(1 << 40))
				ret(w.SetHeader("Bad Name", "x"))
				ret(w.SetHeader("", "x"))
				ret(w.AddHeader("X-Split", "a\nb"))
				ret(w.SetHeader("X-Nul", "a\x00b"))
				ret(w.SetHeader("X-Ctl", "a\x01b"))
				ret(w.DelHeader("bad:name"))
				ret(w.Status(999))
				ret(w.SetHeader("X-Tab", "a\tb"))
			},
			want: answer{Status: 999, Header: http.Header{"X-Tab": {"a\tb"}}},
			errs: []error{route.ErrInvalid, route.ErrInvalid, route.ErrInvalid, route.ErrInvalid,
				route.ErrInvalid, route.ErrInvalid, route.ErrInvalid, route.ErrInvalid, route.ErrInvalid,
				route.ErrInvalid, nil, nil},
		},
		{
			name: "head changed after the body started",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.SetHeader("X-Before", "1"))
				_, err := io.WriteString(w, "body")
				ret(err)
				ret(w.SetHeader("X-After", "1"))
				ret(w.AddHeader("X-After", "1"))
				ret(w.DelHeader("X-Before"))
				ret(w.Status(500))
				ret(w.SetCookie(route.Cookie{Name: "late", Value: "1"}))
				ret(w.JSON(200, "x"))
				_, err = w.WriteString(" more")
				ret(err)
			},
			want: answer{Status: 200, Header: http.Header{"X-Before": {"1"}}, Body: "body more"},
			errs: []error{nil, nil, route.ErrHeadersSent, route.ErrHeadersSent, route.ErrHeadersSent,
				route.ErrHeadersSent, route.ErrHeadersSent, route.ErrHeadersSent, nil},
		},
		{
			name: "flush sends the head",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.Flush())
				ret(w.Status(201))
			},
			want: answer{Status: 200, Header: http.Header{}, Flushes: []int{0}},
			errs: []error{nil, route.ErrHeadersSent},
		},
		{
			name: "empty write does not send the head",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				n, err := w.Write(nil)
				ret(err)
				ret(w.Status(202))
				if n != 0 {
					ret(fmt.Errorf("wrote %d", n))
				}
			},
			want: answer{Status: 202, Header: http.Header{}},
			errs: []error{nil, nil},
		},
		{
			name: "body not allowed",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.Status(204))
				n, err := w.Write([]byte("x"))
				ret(err)
				ret(w.Text(304, "y"))
				if n != 0 {
					ret(fmt.Errorf("wrote %d", n))
				}
			},
			want: answer{Status: 304, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}},
			errs: []error{nil, route.ErrBodyNotAllowed, route.ErrBodyNotAllowed},
		},
		{
			name: "response limit",
			req:  &routetest.Request{ResponseLimit: 8},
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				_, err := w.WriteString("12345")
				ret(err)
				_, err = w.WriteString("6789")
				ret(err)
				_, err = w.WriteString("678")
				ret(err)
			},
			want: answer{Status: 200, Header: http.Header{}, Body: "12345678"},
			errs: []error{nil, route.ErrTooLarge, nil},
		},
		{
			name: "HEAD drops the body",
			req:  &routetest.Request{Method: "HEAD"},
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.Text(200, "dropped"))
				ret(w.SetHeader("X-Late", "1"))
			},
			want: answer{Status: 200, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}},
			errs: []error{nil, route.ErrHeadersSent},
		},
		{
			name: "streaming with flushes",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.SetHeader("Content-Type", "text/event-stream"))
				for i := range 3 {
					fmt.Fprintf(w, "data: %d\n\n", i)
					ret(w.Flush())
				}
				w.WriteString(": done\n")
			},
			want: answer{Status: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
				Body:    "data: 0\n\ndata: 1\n\ndata: 2\n\n: done\n",
				Flushes: []int{9, 18, 27}},
			errs: []error{nil, nil, nil, nil},
		},
		{
			name: "client gone while streaming",
			req:  &routetest.Request{CloseAfterFlushes: 2},
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				for i := range 5 {
					if _, err := fmt.Fprintf(w, "%d", i); err != nil {
						ret(err)
						return
					}
					if err := w.Flush(); err != nil {
						ret(err)
						return
					}
				}
			},
			want: answer{Status: 200, Header: http.Header{}, Body: "01", Flushes: []int{1, 2}},
			errs: []error{route.ErrClosed},
		},
		{
			name: "several cookies and a deletion",
			handler: func(w *route.Response, r *route.Request, ret func(error)) {
				ret(w.SetCookie(route.Cookie{Name: "a", Value: "1"}))
				ret(w.SetCookie(route.Cookie{Name: "b", Value: "2"}))
				ret(w.DeleteCookie("old"))
			},
			want: answer{Status: 200, Header: http.Header{"Set-Cookie": {
				"a=1", "b=2", "old=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0",
			}}},
			errs: []error{nil, nil, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req == nil {
				req = &routetest.Request{}
			}
			var errs []error
			res := routetest.Run(func(w *route.Response, r *route.Request) {
				tt.handler(w, r, func(err error) { errs = append(errs, err) })
			}, req)
			if res.Panic != nil {
				t.Fatalf("handler panicked: %v\n%s", res.Panic, res.Stack)
			}
			got := answer{res.Status, res.Header, string(res.Body), res.Flushes}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if len(errs) != len(tt.errs) {
				t.Fatalf("handler returned %d errors %v, want %d %v", len(errs), errs, len(tt.errs), tt.errs)
			}
			for i := range errs {
				if !errors.Is(errs[i], tt.errs[i]) || (tt.errs[i] == nil) != (errs[i] == nil) {
					t.Errorf("call %d returned %v, want %v", i, errs[i], tt.errs[i])
				}
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	var got []string
	routetest.Run(func(w *route.Response, r *route.Request) {
		for _, err := range []error{
			w.Status(42),
			w.SetHeader("bad name", "v"),
			w.SetCookie(route.Cookie{Name: "a b"}),
		} {
			got = append(got, err.Error())
		}
	}, &routetest.Request{})
	want := []string{
		`route: invalid status "42"`,
		`route: invalid header "bad name: v"`,
		`route: invalid cookie name "a b"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEcho1MiB(t *testing.T) {
	body := make([]byte, 1<<20)
	rand.Read(body)
	src := &countingReader{r: bytes.NewReader(body)}
	req := routetest.NewRequest("POST", "/api/echo", src)
	req.Header.Set("Content-Type", "application/octet-stream")
	res := routetest.Run(func(w *route.Response, r *route.Request) {
		w.SetHeader("Content-Type", r.Header("Content-Type"))
		if _, err := io.Copy(w, r.Body()); err != nil {
			t.Error(err)
		}
	}, req)
	if !bytes.Equal(res.Body, body) {
		t.Errorf("echoed %d bytes, not the %d sent", len(res.Body), len(body))
	}
	if got := res.Header.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("Content-Type %q", got)
	}
	if src.max >= len(body) {
		t.Errorf("the body was read in one piece of %d bytes", src.max)
	}
}

func TestPanic(t *testing.T) {
	tests := []struct {
		name    string
		handler route.Handler
		want    *routetest.Result
	}{
		{"before the head", func(w *route.Response, r *route.Request) {
			w.SetHeader("X-Partial", "1")
			panic("boom")
		}, &routetest.Result{Status: 500, Header: http.Header{}, Panic: "boom"}},
		{"after the head", func(w *route.Response, r *route.Request) {
			w.WriteString("partial")
			w.Flush()
			panic("boom")
		}, &routetest.Result{Status: 200, Header: http.Header{}, Body: []byte("partial"),
			Flushes: []int{7}, Panic: "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := routetest.Run(tt.handler, &routetest.Request{})
			if !strings.Contains(string(got.Stack), "panic") {
				t.Errorf("stack does not show the panic:\n%s", got.Stack)
			}
			got.Stack = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOutsideRun(t *testing.T) {
	var r route.Request
	var w route.Response
	if m, err := r.Method(), w.Flush(); m != "" || !errors.Is(err, route.ErrClosed) {
		t.Errorf("outside routetest.Run: Method %q, Flush %v; want \"\" and ErrClosed", m, err)
	}
}
