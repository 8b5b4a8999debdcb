package route_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/standin"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

// traced runs h against x, as routetest.Run does, and returns the
// stand-in's trace of the service calls.
func traced(x *standin.Exchange, h route.Handler) []string {
	if x.Method == "" {
		x.Method, x.Path = "GET", "/"
	}
	standin.Run(x, func() { route.Serve(h) })
	return x.Trace
}

// upstream is an http.Handler standing for a remote API: it answers with
// what it received.
var upstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/redirect":
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		return
	case "/see-other":
		http.Redirect(w, r, "/echo", http.StatusSeeOther)
		return
	case "/loop":
		http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
		return
	case "/json":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":"wasm","n":3}`)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Add("X-Multi", "1")
	w.Header().Add("X-Multi", "2")
	w.WriteHeader(201)
	fmt.Fprintf(w, "%s %s %s auth=%q body=%q", r.Method, r.Host, r.URL.RequestURI(), r.Header.Get("Authorization"), body)
})

// result is what a test handler saw of one fetch.
type result struct {
	Status int
	URL    string
	Header route.Header
	Body   string
	Err    string
}

// do fetches req inside a handler served by fetch and reports the outcome.
func do(fetch func(*http.Request) (*http.Response, error), req *route.FetchRequest) result {
	var got result
	r := routetest.NewRequest("GET", "/", nil)
	r.Fetch = fetch
	routetest.Run(func(w *route.Response, _ *route.Request) {
		resp, err := route.Fetch(req)
		if err != nil {
			got.Err = err.Error()
			return
		}
		defer resp.Close()
		got.Status, got.URL, got.Header = resp.Status, resp.URL, resp.Header
		b, err := io.ReadAll(resp.Body)
		got.Body = string(b)
		if err != nil {
			got.Err = err.Error()
		}
	}, r)
	return got
}

func TestFetch(t *testing.T) {
	serve := routetest.FetchHandler(upstream)
	tests := []struct {
		name string
		req  route.FetchRequest
		want result
	}{
		{
			name: "GET",
			req:  route.FetchRequest{URL: "https://api.test/items?page=2"},
			want: result{
				Status: 201, URL: "https://api.test/items?page=2",
				Header: route.Header{{"content-type", "text/plain"}, {"x-multi", "1"}, {"x-multi", "2"}},
				Body:   `GET api.test /items?page=2 auth="" body=""`,
			},
		},
		{
			name: "POST with headers and body",
			req: route.FetchRequest{
				Method: "POST", URL: "http://api.test:8080/items",
				Header: route.Header{{"Authorization", "Bearer t"}, {"Host", "evil.test"}, {"Content-Length", "1"}, {"Proxy-Authorization", "x"}},
				Body:   []byte("hello"),
			},
			want: result{
				Status: 201, URL: "http://api.test:8080/items",
				Header: route.Header{{"content-type", "text/plain"}, {"x-multi", "1"}, {"x-multi", "2"}},
				Body:   `POST api.test:8080 /items auth="Bearer t" body="hello"`,
			},
		},
		{
			name: "redirect followed",
			req:  route.FetchRequest{URL: "https://a.test/redirect?to=https://b.test/final", Header: route.Header{{"Authorization", "Bearer t"}}},
			want: result{
				Status: 201, URL: "https://b.test/final",
				Header: route.Header{{"content-type", "text/plain"}, {"x-multi", "1"}, {"x-multi", "2"}},
				Body:   `GET b.test /final auth="" body=""`, // dropped: another origin
			},
		},
		{
			name: "303 turns POST into GET",
			req:  route.FetchRequest{Method: "POST", URL: "https://a.test/see-other", Body: []byte("x"), Header: route.Header{{"Authorization", "Bearer t"}}},
			want: result{
				Status: 201, URL: "https://a.test/echo",
				Header: route.Header{{"content-type", "text/plain"}, {"x-multi", "1"}, {"x-multi", "2"}},
				Body:   `GET a.test /echo auth="Bearer t" body=""`, // kept: same origin
			},
		},
		{
			name: "redirect manual",
			req:  route.FetchRequest{URL: "https://a.test/redirect?to=/there", Redirect: route.RedirectManual},
			want: result{
				Status: 302, URL: "https://a.test/redirect?to=/there",
				Header: route.Header{{"content-type", "text/html; charset=utf-8"}, {"location", "/there"}},
				Body:   "<a href=\"/there\">Found</a>.\n\n",
			},
		},
		{
			name: "redirect error",
			req:  route.FetchRequest{URL: "https://a.test/redirect?to=/there", Redirect: route.RedirectError},
			want: result{Err: "fetch https://a.test/redirect?to=/there: redirected to /there, and the redirect mode is error"},
		},
		{
			name: "too many redirects",
			req:  route.FetchRequest{URL: "https://a.test/loop"},
			want: result{Err: "fetch https://a.test/loop: stopped after 10 redirects"},
		},
		{
			name: "not absolute",
			req:  route.FetchRequest{URL: "/relative"},
			want: result{Err: `fetch "/relative": not an absolute http or https URL`},
		},
		{
			name: "bad scheme",
			req:  route.FetchRequest{URL: "file:///etc/passwd"},
			want: result{Err: `fetch "file:///etc/passwd": not an absolute http or https URL`},
		},
		{
			name: "bad method",
			req:  route.FetchRequest{Method: "GET /", URL: "https://a.test/"},
			want: result{Err: `fetch https://a.test/: invalid method "GET /"`},
		},
		{
			name: "bad header",
			req:  route.FetchRequest{URL: "https://a.test/", Header: route.Header{{"X-Evil", "a\r\nHost: b"}}},
			want: result{Err: `fetch https://a.test/: invalid header "X-Evil": "a\r\nHost: b"`},
		},
		{
			name: "bad redirect mode",
			req:  route.FetchRequest{URL: "https://a.test/", Redirect: 7},
			want: result{Err: "fetch https://a.test/: unknown flags 7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, do(serve, &tt.req)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestFetchErrors checks that each failure is the right sentinel for
// errors.Is, carrying the host's explanation.
func TestFetchErrors(t *testing.T) {
	failing := func(err error) func(*http.Request) (*http.Response, error) {
		return func(*http.Request) (*http.Response, error) { return nil, err }
	}
	big := func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(strings.Repeat("x", 100)))}, nil
	}
	tests := []struct {
		name     string
		req      *routetest.Request
		url      string
		want     error
		wantMsg  string
		wantRead int // bytes read before the error, for body errors
	}{
		{
			name:    "no allowed hosts",
			req:     &routetest.Request{},
			url:     "https://api.example.com/v1?q=1",
			want:    route.ErrDenied,
			wantMsg: `fetch https://api.example.com/v1?q=1: denied: add "https://api.example.com" to allowedOutboundHosts (in a test: set routetest.Request.Fetch)`,
		},
		{
			name:    "denied by the fetch function",
			req:     &routetest.Request{Fetch: failing(fmt.Errorf("%w: add %q to allowedOutboundHosts", routetest.ErrDenied, "https://x.test"))},
			url:     "https://x.test/",
			want:    route.ErrDenied,
			wantMsg: `fetch https://x.test/: denied: add "https://x.test" to allowedOutboundHosts`,
		},
		{
			name:    "connection refused",
			req:     &routetest.Request{Fetch: failing(errors.New("dial tcp 192.0.2.9:443: connect: connection refused"))},
			url:     "https://x.test/",
			want:    route.ErrFetchFailed,
			wantMsg: "fetch https://x.test/: dial tcp 192.0.2.9:443: connect: connection refused",
		},
		{
			name:     "body too large",
			req:      &routetest.Request{Fetch: big, MaxFetchBody: 60},
			url:      "https://x.test/",
			want:     route.ErrTooLarge,
			wantMsg:  "fetch https://x.test/: response body over maxFetchBody (60 bytes)",
			wantRead: 60,
		},
		{
			name:     "body broken",
			req:      &routetest.Request{Fetch: brokenBody},
			url:      "https://x.test/",
			want:     route.ErrFetchFailed,
			wantMsg:  "fetch https://x.test/: reading the body: connection reset by peer",
			wantRead: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			read := 0
			routetest.Run(func(w *route.Response, r *route.Request) {
				resp, ferr := route.Get(tt.url)
				if err = ferr; err != nil {
					return
				}
				var b []byte
				b, err = resp.ReadAll()
				read = len(b)
			}, tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want one matching %v", err, tt.want)
			}
			if got := err.Error(); got != tt.wantMsg {
				t.Errorf("message\n%s\nwant\n%s", got, tt.wantMsg)
			}
			if read != tt.wantRead {
				t.Errorf("read %d bytes before the error, want %d", read, tt.wantRead)
			}
		})
	}

	t.Run("limit", func(t *testing.T) {
		var errs []error
		req := &routetest.Request{Fetch: routetest.FetchHandler(upstream), MaxFetches: 2}
		routetest.Run(func(w *route.Response, r *route.Request) {
			for range 3 {
				p, err := route.StartFetch(&route.FetchRequest{URL: "https://x.test/"})
				errs = append(errs, err)
				if p != nil {
					p.Close()
				}
			}
		}, req)
		if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], route.ErrLimit) {
			t.Fatalf("errors %v, want nil, nil, ErrLimit", errs)
		}
		if want := "fetch https://x.test/: limit: this request made its 2 fetches (maxFetches)"; errs[2].Error() != want {
			t.Errorf("message %q, want %q", errs[2], want)
		}
	})
}

func brokenBody(*http.Request) (*http.Response, error) {
	r, w := io.Pipe()
	go func() {
		w.Write([]byte("hello"))
		w.CloseWithError(errors.New("connection reset by peer"))
	}()
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: r}, nil
}

// chunks is an upstream body that gives one chunk per Read, and then
// io.EOF, each only once release says so.
type chunks struct {
	parts   []string
	release <-chan struct{}
}

func (c *chunks) Read(p []byte) (int, error) {
	<-c.release
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts = c.parts[1:]
	return n, nil
}

func (c *chunks) Close() error { return nil }

// TestFetchStreaming checks that the body arrives in the pieces the handler
// asks for, never buffered whole, and that a read finding nothing waits in
// fetch_poll: the head and each chunk are released only once the guest was
// told ErrPending, so the trace is the same on every run.
func TestFetchStreaming(t *testing.T) {
	release := make(chan struct{})
	x := &standin.Exchange{
		Fetch: func(*http.Request) (*http.Response, error) {
			<-release
			return &http.Response{StatusCode: 200, Header: http.Header{},
				Body: &chunks{parts: []string{"hello ", "streaming ", "world"}, release: release}}, nil
		},
		OnCall: func(call string) {
			if call == "fetch_head 1 -> ErrPending" || call == "fetch_body_read 1 -> ErrPending" {
				release <- struct{}{} // let the upstream send its head, or one chunk
			}
		},
	}
	var reads []string
	trace := traced(x, func(w *route.Response, r *route.Request) {
		resp, err := route.Get("https://x.test/stream")
		if err != nil {
			t.Error(err)
			return
		}
		buf := make([]byte, 4)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				reads = append(reads, string(buf[:n]))
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
		if err := resp.Close(); err != nil {
			t.Errorf("Close after EOF: %v", err)
		}
	})
	if diff := cmp.Diff([]string{"hell", "o ", "stre", "amin", "g ", "worl", "d"}, reads); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
	want := []string{
		"fetch_start GET https://x.test/stream -> 1",
		"fetch_head 1 -> ErrPending",
		"fetch_poll [1] -1 -> 0",
		"fetch_head 1 -> 32", // "200", "https://x.test/stream": 4+3 + 4+21 bytes
		"fetch_body_read 1 -> ErrPending",
		"fetch_poll [1] -1 -> 0",
		"fetch_body_read 1 -> 4",
		"fetch_body_read 1 -> 2",
		"fetch_body_read 1 -> ErrPending",
		"fetch_poll [1] -1 -> 0",
		"fetch_body_read 1 -> 4",
		"fetch_body_read 1 -> 4",
		"fetch_body_read 1 -> 2",
		"fetch_body_read 1 -> ErrPending",
		"fetch_poll [1] -1 -> 0",
		"fetch_body_read 1 -> 4",
		"fetch_body_read 1 -> 1",
		"fetch_body_read 1 -> ErrPending",
		"fetch_poll [1] -1 -> 0",
		"fetch_body_read 1 -> 0",
		"fetch_close 1 -> 0", // at the end of the body, not again at Close
	}
	if diff := cmp.Diff(want, trace); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

// TestFetchHeadPending makes the head itself arrive late: the head
// release happens only after the guest saw ErrPending.
func TestFetchHeadPending(t *testing.T) {
	release := make(chan struct{})
	x := &standin.Exchange{
		Fetch: func(*http.Request) (*http.Response, error) {
			<-release
			return &http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody}, nil
		},
		OnCall: func(call string) {
			if call == "fetch_head 1 -> ErrPending" {
				close(release)
			}
		},
	}
	status := 0
	trace := traced(x, func(w *route.Response, r *route.Request) {
		resp, err := route.Get("https://x.test/")
		if err != nil {
			t.Error(err)
			return
		}
		status = resp.Status
		resp.Close()
	})
	want := []string{
		"fetch_start GET https://x.test/ -> 1",
		"fetch_head 1 -> ErrPending",
		"fetch_poll [1] -1 -> 0",
		"fetch_head 1 -> 26",
		"fetch_close 1 -> 0",
	}
	if diff := cmp.Diff(want, trace); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if status != 204 {
		t.Errorf("status %d, want 204", status)
	}
}

// TestFetchAllConcurrent checks that FetchAll starts every request before it
// waits for any: the first upstream answers only once the second was
// called, which would deadlock one-at-a-time fetching.
func TestFetchAllConcurrent(t *testing.T) {
	bCalled := make(chan struct{})
	x := &standin.Exchange{
		Fetch: func(r *http.Request) (*http.Response, error) {
			switch r.URL.Host {
			case "a.test":
				select {
				case <-bCalled:
				case <-time.After(10 * time.Second):
					return nil, errors.New("b was never called while a was in flight")
				}
			case "b.test":
				close(bCalled)
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(r.URL.Host))}, nil
		},
	}
	var bodies []string
	trace := traced(x, func(w *route.Response, r *route.Request) {
		resps, err := route.FetchAll(
			&route.FetchRequest{URL: "https://a.test/"},
			&route.FetchRequest{URL: "https://b.test/"},
		)
		if err != nil {
			t.Error(err)
			return
		}
		for _, resp := range resps {
			b, err := resp.ReadAll()
			if err != nil {
				t.Error(err)
			}
			bodies = append(bodies, string(b))
		}
	})
	if diff := cmp.Diff([]string{"a.test", "b.test"}, bodies); diff != "" {
		t.Errorf("bodies in request order (-want +got):\n%s", diff)
	}
	// Both started before the first wait; the wait covers both.
	if len(trace) < 3 || trace[0] != "fetch_start GET https://a.test/ -> 1" ||
		trace[1] != "fetch_start GET https://b.test/ -> 2" || !strings.HasPrefix(trace[2], "fetch_poll [1 2] -1 -> ") {
		t.Errorf("trace does not start both, then poll both:\n%s", strings.Join(trace, "\n"))
	}
}

// TestFetchAllFails checks that FetchAll returns the first failure and
// closes the other fetches at once.
func TestFetchAllFails(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	x := &standin.Exchange{
		Fetch: func(r *http.Request) (*http.Response, error) {
			if r.URL.Host == "slow.test" {
				select {
				case <-hold:
				case <-r.Context().Done(): // closed by FetchAll
				}
				return nil, r.Context().Err()
			}
			return nil, fmt.Errorf("%w: add %q to allowedOutboundHosts", routetest.ErrDenied, "https://"+r.URL.Host)
		},
	}
	var err error
	trace := traced(x, func(w *route.Response, r *route.Request) {
		_, err = route.FetchAll(
			&route.FetchRequest{URL: "https://slow.test/"},
			&route.FetchRequest{URL: "https://denied.test/"},
		)
	})
	if !errors.Is(err, route.ErrDenied) || !strings.Contains(err.Error(), `add "https://denied.test"`) {
		t.Errorf("error %v, want the denial of denied.test", err)
	}
	want := []string{
		"fetch_start GET https://slow.test/ -> 1",
		"fetch_start GET https://denied.test/ -> 2",
		"fetch_poll [1 2] -1 -> 1",
		"fetch_head 2 -> ErrDenied",
		"fetch_close 2 -> 0",
		"fetch_close 1 -> 0",
	}
	if diff := cmp.Diff(want, trace); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestWaitAny(t *testing.T) {
	release := make(chan struct{})
	x := &standin.Exchange{
		Fetch: func(r *http.Request) (*http.Response, error) {
			if r.URL.Host == "slow.test" {
				<-release
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}, nil
		},
	}
	var order []int
	traced(x, func(w *route.Response, r *route.Request) {
		slow, _ := route.StartFetch(&route.FetchRequest{URL: "https://slow.test/"})
		fast, _ := route.StartFetch(&route.FetchRequest{URL: "https://fast.test/"})
		ps := []*route.PendingFetch{slow, fast}
		i, err := route.WaitAny(ps...)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, i)
		if _, err := ps[i].Response(); err != nil {
			t.Fatal(err)
		}
		close(release)
		// fast's response was taken: it counts as arrived.
		if i, _ = route.WaitAny(fast, slow); i != 0 {
			t.Errorf("WaitAny(taken, pending) = %d, want 0", i)
		}
		i, _ = route.WaitAny(slow)
		order = append(order, i)
		slow.Close()
		if i, err := route.WaitAny(slow); i != 0 || err != nil {
			t.Errorf("WaitAny(closed) = %d, %v, want 0, nil", i, err)
		}
		if _, err := route.WaitAny(); !errors.Is(err, route.ErrInvalid) {
			t.Errorf("WaitAny() error %v, want ErrInvalid", err)
		}
	})
	if diff := cmp.Diff([]int{1, 0}, order); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestFetchCancel checks that closing a fetch, or returning with one open,
// cancels the upstream request.
func TestFetchCancel(t *testing.T) {
	for _, closeIt := range []bool{true, false} {
		t.Run(fmt.Sprint("close=", closeIt), func(t *testing.T) {
			canceled := make(chan struct{})
			x := &standin.Exchange{
				Fetch: func(r *http.Request) (*http.Response, error) {
					<-r.Context().Done()
					close(canceled)
					return nil, r.Context().Err()
				},
			}
			var err error
			traced(x, func(w *route.Response, r *route.Request) {
				p, _ := route.StartFetch(&route.FetchRequest{URL: "https://x.test/"})
				if closeIt {
					p.Close()
					_, err = p.Response()
				}
			})
			select {
			case <-canceled:
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream request was not cancelled")
			}
			if closeIt && err == nil {
				t.Error("Response after Close returned no error")
			}
		})
	}
}

// TestFetchBodyClose checks that a body closed early stops the transfer and
// later reads fail.
func TestFetchBodyClose(t *testing.T) {
	ctxDone := make(chan struct{})
	x := &standin.Exchange{
		Fetch: func(r *http.Request) (*http.Response, error) {
			body := io.MultiReader(strings.NewReader("first"), ctxReader{r.Context(), ctxDone})
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(body)}, nil
		},
	}
	var readErr error
	traced(x, func(w *route.Response, r *route.Request) {
		resp, err := route.Get("https://x.test/")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		io.ReadFull(resp.Body, buf)
		resp.Close()
		_, readErr = resp.Body.Read(buf)
	})
	select {
	case <-ctxDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the transfer was not cancelled")
	}
	if readErr == nil || readErr == io.EOF {
		t.Errorf("Read after Close: %v, want an error", readErr)
	}
}

// ctxReader blocks until ctx ends, then closes done.
type ctxReader struct {
	ctx  context.Context
	done chan struct{}
}

func (r ctxReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	close(r.done)
	return 0, r.ctx.Err()
}

func TestFetchJSON(t *testing.T) {
	var got struct {
		Name string
		N    int
	}
	var posted string
	var ok bool
	req := routetest.NewRequest("GET", "/", nil)
	req.Fetch = routetest.FetchHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s", r.Header.Get("Content-Type"), b)
			return
		}
		upstream.ServeHTTP(w, r)
	}))
	routetest.Run(func(w *route.Response, r *route.Request) {
		resp, err := route.Get("https://api.test/json")
		if err != nil {
			t.Fatal(err)
		}
		ok = resp.OK()
		if err := resp.JSON(&got); err != nil {
			t.Error(err)
		}
		resp, err = route.PostJSON("https://api.test/items", map[string]any{"name": "<wasm>", "tags": []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := resp.ReadAll()
		posted = string(b)
	}, req)
	if got.Name != "wasm" || got.N != 3 || !ok {
		t.Errorf("JSON decoded %+v, ok %v", got, ok)
	}
	if want := `application/json {"name":"<wasm>","tags":["a"]}`; posted != want {
		t.Errorf("posted %q, want %q", posted, want)
	}
}

func TestHeader(t *testing.T) {
	var h route.Header
	h.Add("Accept", "a")
	h.Add("X-Tag", "1")
	h.Add("accept", "b")
	h.Add("x-tag", "2")
	if got := h.Get("ACCEPT"); got != "a" {
		t.Errorf("Get = %q, want a", got)
	}
	if diff := cmp.Diff([]string{"a", "b"}, h.Values("Accept")); diff != "" {
		t.Errorf("Values (-want +got):\n%s", diff)
	}
	h.Set("X-TAG", "3")
	h.Set("New", "n")
	h.Del("accept")
	want := route.Header{{"X-Tag", "3"}, {"New", "n"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("after Set and Del (-want +got):\n%s", diff)
	}
	if h.Values("absent") != nil || h.Get("absent") != "" {
		t.Error("an absent header has values")
	}
}

// TestFetchOutsideRun checks that a fetch with no request under way fails
// cleanly, as a native program calling the SDK outside routetest would.
func TestFetchOutsideRun(t *testing.T) {
	if _, err := route.Get("https://x.test/"); !errors.Is(err, route.ErrDenied) {
		t.Errorf("error %v, want ErrDenied", err)
	}
}
