package handlers_test

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/examples/demo/internal/handlers"
	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

// answer is the part of a routetest.Result these tests compare.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

func TestHandlers(t *testing.T) {
	json := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name    string
		handler route.Handler
		req     *routetest.Request
		want    answer
	}{
		{"slug", handlers.Slug, withParam(routetest.NewRequest("GET", "/blog/some-post", nil), "slug", "some-post"),
			answer{200, json, `{"slug":"some-post"}`}},
		{"slug decoded", handlers.Slug, withParam(routetest.NewRequest("GET", "/blog/a%20b", nil), "slug", "a b"),
			answer{200, json, `{"slug":"a b"}`}},
		{"query", handlers.Query, routetest.NewRequest("GET", "/api/query?name=wasm&tag=a&tag=b", nil),
			answer{200, json, `{"name":"wasm","tag":["a","b"]}`}},
		{"query empty", handlers.Query, routetest.NewRequest("GET", "/api/query", nil),
			answer{200, json, `{"name":"","tag":[]}`}},
		{"cookies", handlers.Cookies, withHeader(routetest.NewRequest("GET", "/api/cookies", nil), "Cookie", "session=abc"),
			answer{200, http.Header{"Content-Type": {"application/json"}, "Set-Cookie": {"a=1", "b=2"}}, `{"session":"abc"}`}},
		{"cookies without session", handlers.Cookies, routetest.NewRequest("GET", "/api/cookies", nil),
			answer{200, http.Header{"Content-Type": {"application/json"}, "Set-Cookie": {"a=1", "b=2"}}, `{"session":null}`}},
		{"echo", handlers.Echo, withHeader(routetest.NewRequest("POST", "/api/echo", bytes.NewReader([]byte("ping"))), "Content-Type", "text/plain"),
			answer{200, http.Header{"Content-Type": {"text/plain"}}, "ping"}},
		{"echo without Content-Type", handlers.Echo, routetest.NewRequest("POST", "/api/echo", bytes.NewReader([]byte("ping"))),
			answer{200, http.Header{}, "ping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := routetest.Run(tt.handler, tt.req)
			if diff := cmp.Diff(tt.want, answer{res.Status, res.Header, string(res.Body)}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEchoLarge(t *testing.T) {
	body := make([]byte, 1<<20)
	rand.Read(body)
	req := withHeader(routetest.NewRequest("POST", "/api/echo", bytes.NewReader(body)), "Content-Type", "application/octet-stream")
	res := routetest.Run(handlers.Echo, req)
	if res.Status != 200 || !bytes.Equal(res.Body, body) {
		t.Errorf("status %d, %d bytes back; want 200 and the %d bytes sent", res.Status, len(res.Body), len(body))
	}
}

func TestEchoTooLarge(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10)
	req := routetest.NewRequest("POST", "/api/echo", bytes.NewReader(body))
	req.BodyLimit = 25
	res := routetest.Run(handlers.Echo, req)
	// The guest never sees more than the limit, so it cannot echo more.
	if got, want := string(res.Body), string(body[:25]); got != want {
		t.Errorf("echoed %q, want %q", got, want)
	}
}

func TestStream(t *testing.T) {
	res := routetest.Run(handlers.Stream(0), routetest.NewRequest("GET", "/api/stream", nil))
	want := []string{"data: 0\n\n", "data: 1\n\n", "data: 2\n\n", "data: 3\n\n", "data: 4\n\n"}
	if diff := cmp.Diff(want, res.Chunks()); diff != "" {
		t.Errorf("flushed chunks (-want +got):\n%s", diff)
	}
	if got := res.Header.Get("Content-Type"); got != "text/event-stream" {
		t.Errorf("Content-Type %q", got)
	}
}

func TestStreamClientGone(t *testing.T) {
	req := routetest.NewRequest("GET", "/api/stream", nil)
	req.CloseAfterFlushes = 2
	res := routetest.Run(handlers.Stream(0), req)
	if diff := cmp.Diff([]string{"data: 0\n\n", "data: 1\n\n"}, res.Chunks()); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}
}

func withParam(req *routetest.Request, name string, values ...string) *routetest.Request {
	req.Params = append(req.Params, routetest.Param{Name: name, Values: values})
	return req
}

func withHeader(req *routetest.Request, name, value string) *routetest.Request {
	req.Header.Add(name, value)
	return req
}
