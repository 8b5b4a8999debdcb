// Package routetest runs a route.Handler natively, with plain go test, the
// way package httptest runs an http.Handler.
//
// Run hands the handler an in-memory request through the same code that
// reads the real host's answers (the same buffer protocol, list encoding,
// validation and error codes), and records the response: status, headers,
// body and the points where the handler flushed.
//
//	func TestHello(t *testing.T) {
//		res := routetest.Run(hello, routetest.NewRequest("GET", "/api/hello", nil))
//		if res.Status != 200 || string(res.Body) != `{"message":"hello"}` {
//			t.Errorf("got %d %s", res.Status, res.Body)
//		}
//	}
//
// A handler's outbound requests (route.Fetch) go to Request.Fetch, a
// function in net/http's shape: http.DefaultTransport.RoundTrip reaches the
// network, FetchHandler serves them from an http.Handler in process. Its
// key-value calls (package route/kv) go to Request.KV, an in-memory
// namespace with the host's semantics. Without them a fetch is denied and a
// kv call fails, as on a host with no allowedOutboundHosts and no store:
//
//	store := &routetest.KV{}
//	req := routetest.NewRequest("GET", "/api/weather?city=Oslo", nil)
//	req.Fetch = routetest.FetchHandler(fakeWeatherAPI) // an http.Handler
//	req.KV = store
//	res := routetest.Run(weather, req)
//	cached, ok := store.Get("weather:Oslo")
//
// This package imports net/http for its Header type and the outbound
// stand-in; it is meant for tests only and is never built into a guest.
package routetest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/standin"
)

// Request describes the request a handler under test receives. The zero
// value of each field has a sensible default, noted beside it.
type Request struct {
	Method string // "" means "GET"

	// Target is the request target: a path with an optional query,
	// "/api/query?name=wasm&tag=a", or an absolute URL whose path and query
	// are used. The path is passed on as written (escaped).
	Target string

	// Header holds the request headers; names are matched
	// case-insensitively. A "Host: example.com" is added when it has none.
	Header http.Header

	// Params holds the route params in path order, as the route table would
	// give them: one value for [slug], one per segment for [...path], and
	// none for an optional catch-all that matched nothing.
	Params []Param

	Body       io.Reader // nil means empty
	RemoteAddr string    // "" means "192.0.2.1:1234"
	Protocol   string    // "" means "HTTP/1.1"

	// BodyLimit, when positive, is the route's body limit: reading past it
	// fails with route.ErrTooLarge.
	BodyLimit int64
	// ResponseLimit, when positive, is the route's response limit: a write
	// that would pass it fails with route.ErrTooLarge.
	ResponseLimit int64
	// CloseAfterFlushes, when positive, makes the client go away after that
	// many flushes: later reads, writes and flushes fail with
	// route.ErrClosed.
	CloseAfterFlushes int

	// Fetch answers the handler's outbound requests, one call per hop:
	// redirects are followed (or not) by the stand-in, as the RedirectMode
	// says, so give it a round trip that does not follow them itself:
	// http.DefaultTransport.RoundTrip to reach the network, FetchHandler(h)
	// to serve them in process. The request's context ends when the
	// handler closes the response or returns. An error wrapping ErrDenied
	// fails the fetch with route.ErrDenied, any other with
	// route.ErrFetchFailed. Nil: every fetch fails with route.ErrDenied,
	// as on a host whose route has no allowedOutboundHosts.
	//
	// Unlike the host, the stand-in checks no allow-list and no address:
	// whatever Fetch reaches, the handler reaches.
	Fetch func(*http.Request) (*http.Response, error)
	// MaxFetches, when positive, is the route's maxFetches: the fetch after
	// that many fails with route.ErrLimit.
	MaxFetches int
	// MaxFetchBody, when positive, is the route's maxFetchBody: reading a
	// response body past it fails with route.ErrTooLarge.
	MaxFetchBody int64

	// KV is the project's key-value namespace, which package route/kv
	// reaches. Share one between Runs to keep data from one request to the
	// next. Nil: every kv call fails with kv.ErrFailed, as on a host
	// without a store.
	KV *KV
}

// ErrDenied, wrapped in an error a Request.Fetch function returns, makes the
// fetch fail with route.ErrDenied, as the host's policy would, e.g.
//
//	fmt.Errorf("%w: add %q to allowedOutboundHosts", routetest.ErrDenied, "https://"+req.URL.Host)
var ErrDenied = standin.ErrDenied

// FetchHandler returns a Request.Fetch function that serves each outbound
// request with h in process, as httptest.NewRecorder records it: the
// response arrives once h returns. h sees the request as a server would
// (RequestURI, Host); redirects it answers are followed by the stand-in.
func FetchHandler(h http.Handler) func(*http.Request) (*http.Response, error) {
	return func(out *http.Request) (*http.Response, error) {
		in := out.Clone(out.Context())
		in.RequestURI = out.URL.RequestURI()
		in.Host = out.URL.Host
		in.RemoteAddr = "192.0.2.1:1234"
		if in.Body == nil {
			in.Body = http.NoBody // a server's request always has one
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, in)
		resp := rec.Result()
		resp.Request = out
		return resp, nil
	}
}

// Param is a route param and its values.
type Param struct {
	Name   string
	Values []string
}

// NewRequest returns a Request for method and target with body (nil for
// none) and an empty Header, ready for headers and params to be added.
func NewRequest(method, target string, body io.Reader) *Request {
	return &Request{Method: method, Target: target, Header: http.Header{}, Body: body}
}

// Result is what a handler answered.
type Result struct {
	Status int         // 200 unless the handler set another
	Header http.Header // canonical names, every value in the order added
	Body   []byte      // empty for a HEAD request, as the host drops it

	// Revalidated lists the paths the handler passed to
	// route.RevalidatePath, in order.
	Revalidated []string

	// Flushes holds len(Body) at each successful Flush, in order, so that
	// Body[Flushes[i-1]:Flushes[i]] is what the client received at flush i.
	Flushes []int

	// Panic is the value the handler panicked with, nil if it returned. The
	// runtime answers a panicking guest with 500 and an empty body, and so
	// does Run, unless the head was already sent. Stack is the panicking
	// goroutine's stack.
	Panic any
	Stack []byte
}

// Chunks splits Body at the flush points: one element per flush, then the
// rest written after the last flush if there is any.
func (r *Result) Chunks() []string {
	var chunks []string
	start := 0
	for _, end := range r.Flushes {
		chunks = append(chunks, string(r.Body[start:end]))
		start = end
	}
	if start < len(r.Body) {
		chunks = append(chunks, string(r.Body[start:]))
	}
	return chunks
}

// Run calls h, through route.Serve, with req and returns its answer. Runs
// are serialized, since the SDK, like a guest instance, serves one request
// at a time; Run is safe for concurrent use.
func Run(h route.Handler, req *Request) *Result {
	x := exchange(req)
	res := &Result{}
	standin.Run(x, func() {
		defer func() {
			if p := recover(); p != nil {
				res.Panic, res.Stack = p, debug.Stack()
			}
		}()
		route.Serve(h)
	})
	res.Status = x.Status
	res.Header = http.Header{}
	for _, f := range x.RespHeader {
		res.Header.Add(f.Name, f.Value)
	}
	res.Body = x.RespBody
	res.Flushes = x.Flushes
	res.Revalidated = x.Revalidated
	if res.Panic != nil && !x.HeadSent {
		res.Status, res.Header, res.Body = 500, http.Header{}, nil
	}
	return res
}

func exchange(req *Request) *standin.Exchange {
	x := &standin.Exchange{
		Method:            req.Method,
		Path:              req.Target,
		Protocol:          req.Protocol,
		RemoteAddr:        req.RemoteAddr,
		Body:              req.Body,
		BodyLimit:         req.BodyLimit,
		ResponseLimit:     req.ResponseLimit,
		CloseAfterFlushes: req.CloseAfterFlushes,
		Fetch:             req.Fetch,
		MaxFetches:        req.MaxFetches,
		MaxFetchBody:      req.MaxFetchBody,
	}
	if req.KV != nil {
		x.KV = namespace{req.KV}
	}
	if x.Method == "" {
		x.Method = "GET"
	}
	if x.Protocol == "" {
		x.Protocol = "HTTP/1.1"
	}
	if x.RemoteAddr == "" {
		x.RemoteAddr = "192.0.2.1:1234"
	}
	if x.Body == nil {
		x.Body = bytes.NewReader(nil)
	}
	host := "example.com"
	if strings.Contains(x.Path, "://") {
		if u, err := url.Parse(x.Path); err == nil {
			host = u.Host
			x.Path, x.Query = u.EscapedPath(), u.RawQuery
		}
	} else {
		x.Path, x.Query, _ = strings.Cut(x.Path, "?")
	}
	if x.Path == "" {
		x.Path = "/"
	}
	names := make([]string, 0, len(req.Header))
	hasHost := false
	for name := range req.Header {
		names = append(names, name)
		hasHost = hasHost || strings.EqualFold(name, "Host")
	}
	sort.Strings(names) // a stable order across runs
	for _, name := range names {
		for _, v := range req.Header[name] {
			x.Header = append(x.Header, standin.Field{Name: name, Value: v})
		}
	}
	if !hasHost {
		x.Header = append(x.Header, standin.Field{Name: "Host", Value: host})
	}
	for _, p := range req.Params {
		x.Params = append(x.Params, standin.Param{Name: p.Name, Values: p.Values})
	}
	return x
}
