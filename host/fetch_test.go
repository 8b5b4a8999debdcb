package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/outbound"
)

// Where fetch tests lay things out in guest memory.
const (
	handlesAt = 0x100  // fetch_poll's handles
	reqAt     = 0x1000 // fetch_start's request list
	bodyAt    = 0x4000 // its body
	headAt    = 0x8000 // fetch_head's buffer ...
	headLen   = 0x4000
	readAt    = 0xC000 // fetch_body_read's ...
	readLen   = 0x4000
)

// upstream is the server guests fetch from, on 127.0.0.1:
//
//   - /slow?ms=N answers "slow" after N ms, counting requests in flight;
//   - /wait answers when its request is cancelled;
//   - /endless writes a body forever, /drip a byte every 20 ms;
//   - /big?n=N writes N bytes (pattern);
//   - /redirect?to=U&code=C redirects;
//   - /headers answers with headers of mixed case and two Set-Cookie;
//   - /echo answers with what it received.
//
// Every request whose context ended before its handler returned is counted
// in cancelled, by path.
type upstream struct {
	*httptest.Server

	mu        sync.Mutex
	now, peak int
	requests  int
	cancelled map[string]int
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{cancelled: make(map[string]int)}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.requests++
	u.mu.Unlock()
	defer func() {
		if r.Context().Err() != nil {
			u.mu.Lock()
			u.cancelled[r.URL.Path]++
			u.mu.Unlock()
		}
	}()
	ctx := r.Context()
	switch r.URL.Path {
	case "/slow":
		u.mu.Lock()
		u.now++
		u.peak = max(u.peak, u.now)
		u.mu.Unlock()
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
		}
		u.mu.Lock()
		u.now--
		u.mu.Unlock()
		io.WriteString(w, "slow")
	case "/wait":
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-ctx.Done()
	case "/waithead":
		<-ctx.Done()
	case "/endless":
		chunk := bytes.Repeat([]byte("x"), 4096)
		for ctx.Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				break
			}
		}
		<-ctx.Done()
	case "/drip":
		w.WriteHeader(http.StatusOK)
		for ctx.Err() == nil {
			w.Write([]byte("."))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(pattern(n))
	case "/redirect":
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		http.Redirect(w, r, r.URL.Query().Get("to"), cmpOr(code, http.StatusFound))
	case "/headers":
		h := w.Header()
		h["X-B"] = []string{"1"}
		h["Set-Cookie"] = []string{"a=1", "b=2"}
		h["x-lower"] = []string{"v"}
		h.Set("Content-Type", "text/plain")
		io.WriteString(w, "h")
	case "/echo":
		b, _ := io.ReadAll(r.Body)
		var names []string
		for k := range r.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		fmt.Fprintf(w, "%s %s host=%s len=%d", r.Method, r.URL.RequestURI(), r.Host, r.ContentLength)
		for _, k := range names {
			if k != "Accept-Encoding" && k != "User-Agent" && k != "Content-Length" {
				fmt.Fprintf(w, " %s=%q", k, r.Header[k])
			}
		}
		fmt.Fprintf(w, " body=%q", b)
	default:
		io.WriteString(w, "hello")
	}
}

// stats returns the requests the upstream got, and the most at once on
// /slow.
func (u *upstream) stats() (requests, peak int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests, u.peak
}

// waitCancelled waits for the upstream to see a request to path cancelled.
func (u *upstream) waitCancelled(t testing.TB, path string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		u.mu.Lock()
		n := u.cancelled[path]
		u.mu.Unlock()
		if n > 0 {
			return
		}
	}
	t.Errorf("the upstream saw no request to %s cancelled", path)
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// fetchTest calls the fetch functions for one request, as a guest would.
type fetchTest struct {
	t   testing.TB
	mod api.Module
	e   *Exchange
	ctx context.Context
}

// newFetchTest returns a request whose Outbound allows 127.0.0.1 on any
// port, with o's limits.
func newFetchTest(t testing.TB, limits Outbound) *fetchTest {
	p, err := outbound.Parse([]string{"http://127.0.0.1:*"}, "wasmroute.json")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	limits.Client, limits.Allow = p.Client(), p.Allow
	return newFetchTestWith(t, &limits)
}

func newFetchTestWith(t testing.TB, o *Outbound) *fetchTest {
	e := NewExchange(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
	e.Outbound = o
	ft := &fetchTest{t: t, mod: newGuest(t), e: e, ctx: WithExchange(context.Background(), e)}
	t.Cleanup(e.End)
	return ft
}

// call calls host function fn, failing the test on a trap.
func (ft *fetchTest) call(fn string, args ...uint32) int32 {
	ft.t.Helper()
	got, err := call(ft.ctx, fnByName(fn).fn, ft.mod, args...)
	if err != nil {
		ft.t.Fatalf("%s%v: %v", fn, args, err)
	}
	return got
}

// start calls fetch_start with list items (method, URL, headers) and body.
func (ft *fetchTest) start(flags uint32, body string, items ...string) int32 {
	ft.t.Helper()
	l := list(items...)
	reset(ft.mod, region{reqAt, l}, region{bodyAt, []byte(body)})
	return ft.call(abi.FuncFetchStart, reqAt, uint32(len(l)), bodyAt, uint32(len(body)), flags)
}

func (ft *fetchTest) get(url string) int32 {
	ft.t.Helper()
	h := ft.start(0, "", "GET", url)
	if h <= 0 {
		ft.t.Fatalf("fetch_start(GET %s) = %d (%s)", url, h, ft.e.errMsg)
	}
	return h
}

func (ft *fetchTest) poll(timeout int32, handles ...int32) int32 {
	ft.t.Helper()
	var b []byte
	for _, h := range handles {
		b = binary.LittleEndian.AppendUint32(b, uint32(h))
	}
	ft.mod.Memory().Write(handlesAt, b)
	return ft.call(abi.FuncFetchPoll, handlesAt, uint32(len(handles)), uint32(timeout))
}

// wait polls h until it is ready, failing the test after 10 s.
func (ft *fetchTest) wait(h int32) {
	ft.t.Helper()
	if got := ft.poll(10_000, h); got != 0 {
		ft.t.Fatalf("fetch_poll(%d) = %d, want 0 (ready)", h, got)
	}
}

// head calls fetch_head and decodes the list it wrote: status, URL,
// then names and values.
func (ft *fetchTest) head(h int32) (int32, []string) {
	ft.t.Helper()
	n := ft.call(abi.FuncFetchHead, uint32(h), headAt, headLen)
	if n < 0 || n > headLen {
		return n, nil
	}
	b, _ := ft.mod.Memory().Read(headAt, uint32(n))
	var items []string
	for len(b) > 0 {
		item, rest, ok := abi.NextItem(b)
		if !ok {
			ft.t.Fatalf("fetch_head wrote a malformed list: %q", b)
		}
		items, b = append(items, string(item)), rest
	}
	return n, items
}

func (ft *fetchTest) read(h int32, n uint32) (int32, []byte) {
	ft.t.Helper()
	got := ft.call(abi.FuncFetchBodyRead, uint32(h), readAt, n)
	if got <= 0 {
		return got, nil
	}
	b, _ := ft.mod.Memory().Read(readAt, uint32(got))
	return got, bytes.Clone(b)
}

// readAll reads h's body to its end or an error, polling when nothing is
// there, and returns it with the last code (0 at the end).
func (ft *fetchTest) readAll(h int32) (string, int32) {
	ft.t.Helper()
	var body []byte
	for {
		n, b := ft.read(h, readLen)
		switch {
		case n > 0:
			body = append(body, b...)
		case n == abi.ErrPending:
			ft.wait(h)
		default:
			return string(body), n
		}
	}
}

// fetchGoroutines counts the goroutines of fetches (fetch.run).
func fetchGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "host.(*fetch).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitNoFetchGoroutines fails t unless every fetch goroutine ends soon.
func waitNoFetchGoroutines(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n := fetchGoroutines(); n > 0; n = fetchGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d fetch goroutines still run 5s after End", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFetch(t *testing.T) {
	up := newUpstream(t)
	ft := newFetchTest(t, Outbound{})
	h := ft.get(up.URL + "/hello?q=1#frag")
	if h != 1 {
		t.Errorf("first handle %d, want 1", h)
	}
	ft.wait(h)
	n, head := ft.head(h)
	if want := []string{"200", up.URL + "/hello?q=1"}; len(head) < 2 || !cmp.Equal(want, head[:2]) || !slices.Contains(head, "content-length") {
		t.Errorf("head %q, want it to start %q and have a content-length", head, want)
	}
	if n != int32(len(list(head...))) {
		t.Errorf("fetch_head returned %d for a %d-byte head", n, len(list(head...)))
	}
	body, code := ft.readAll(h)
	if body != "hello" || code != 0 {
		t.Errorf("body %q, code %d; want \"hello\", 0", body, code)
	}
	if got := ft.call(abi.FuncFetchClose, uint32(h)); got != abi.OK {
		t.Errorf("fetch_close = %d", got)
	}
	if got := ft.get(up.URL); got != 2 {
		t.Errorf("the handle after a closed one is %d, want 2 (never reused)", got)
	}
}

func TestFetchStartInvalid(t *testing.T) {
	up := newUpstream(t)
	u := up.URL + "/"
	tests := []struct {
		name  string
		list  []byte
		flags uint32
		code  int32
		msg   string
	}{
		{"empty list", nil, 0, abi.ErrInvalid, "fetch_start: the request list is empty or malformed: want method, URL, then header names and values"},
		{"short length", []byte{3, 0, 0}, 0, abi.ErrInvalid, "fetch_start: the request list is empty or malformed: want method, URL, then header names and values"},
		{"length past the end", []byte{9, 0, 0, 0, 'G', 'E', 'T'}, 0, abi.ErrInvalid, "fetch_start: the request list is empty or malformed: want method, URL, then header names and values"},
		{"no URL", list("GET"), 0, abi.ErrInvalid, "fetch_start: the request list has no URL after the method, or is malformed"},
		{"method not a token", list("GE T", u), 0, abi.ErrInvalid, `fetch_start: method "GE T" is not a token`},
		{"empty method", list("", u), 0, abi.ErrInvalid, `fetch_start: method "" is not a token`},
		{"CONNECT", list("connect", u), 0, abi.ErrInvalid, "fetch_start: method connect is not allowed"},
		{"TRACE", list("TRACE", u), 0, abi.ErrInvalid, "fetch_start: method TRACE is not allowed"},
		{"relative URL", list("GET", "/x"), 0, abi.ErrInvalid, "fetch_start: the URL is not absolute http or https"},
		{"ftp", list("GET", "ftp://127.0.0.1/"), 0, abi.ErrInvalid, "fetch_start: the URL is not absolute http or https"},
		{"file", list("GET", "file:///etc/passwd"), 0, abi.ErrInvalid, "fetch_start: the URL is not absolute http or https"},
		{"no host", list("GET", "http:///x"), 0, abi.ErrInvalid, "fetch_start: the URL has no host"},
		{"opaque", list("GET", "http:127.0.0.1"), 0, abi.ErrInvalid, "fetch_start: the URL has no host"},
		{"port only", list("GET", "http://:80/"), 0, abi.ErrInvalid, "fetch_start: the URL has no host"},
		{"userinfo", list("GET", "http://u:secret@127.0.0.1/"), 0, abi.ErrInvalid, "fetch_start: the URL has userinfo: send an authorization header instead"},
		{"port 0", list("GET", "http://127.0.0.1:0/"), 0, abi.ErrInvalid, `fetch_start: the URL's port "0" is not 1 to 65535`},
		{"port 65536", list("GET", "http://127.0.0.1:65536/"), 0, abi.ErrInvalid, `fetch_start: the URL's port "65536" is not 1 to 65535`},
		{"control character", list("GET", "http://127.0.0.1/\n?secret"), 0, abi.ErrInvalid, "fetch_start: the URL is not valid: net/url: invalid control character in URL"},
		{"odd header items", list("GET", u, "accept"), 0, abi.ErrInvalid, `fetch_start: header "accept" has no value: want names and values alternately`},
		{"malformed header item", append(list("GET", u), 1, 0), 0, abi.ErrInvalid, "fetch_start: the request list is malformed after the URL"},
		{"malformed value item", append(list("GET", u, "a"), 9, 0, 0, 0), 0, abi.ErrInvalid, "fetch_start: the request list is malformed after the URL"},
		{"bad header name", list("GET", u, "a:b", "1"), 0, abi.ErrInvalid, `fetch_start: header name "a:b" is not a token`},
		{"empty header name", list("GET", u, "", "1"), 0, abi.ErrInvalid, `fetch_start: header name "" is not a token`},
		{"CRLF in a value", list("GET", u, "x-a", "1\r\nx-b: 2"), 0, abi.ErrInvalid, "fetch_start: the value of header x-a has a control character"},
		{"NUL in a value", list("GET", u, "x-a", "\x00"), 0, abi.ErrInvalid, "fetch_start: the value of header x-a has a control character"},
		{"flags 3", list("GET", u), 3, abi.ErrInvalid, "fetch_start: flags 3: want 0 (follow redirects), 1 (manual) or 2 (error)"},
		{"flags -1", list("GET", u), 0xFFFFFFFF, abi.ErrInvalid, "fetch_start: flags 4294967295: want 0 (follow redirects), 1 (manual) or 2 (error)"},
		{"denied", list("GET", "https://api.example.com/v1/x?key=secret"), 0, abi.ErrDenied,
			`fetch https://api.example.com/v1/x: denied: add "https://api.example.com" to allowedOutboundHosts in wasmroute.json`},
		{"denied port", list("GET", "https://127.0.0.1:8443/"), 0, abi.ErrDenied,
			`fetch https://127.0.0.1:8443/: denied: add "https://127.0.0.1:8443" to allowedOutboundHosts in wasmroute.json`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFetchTest(t, Outbound{})
			reset(ft.mod, region{reqAt, tc.list})
			got := ft.call(abi.FuncFetchStart, reqAt, uint32(len(tc.list)), bodyAt, 0, tc.flags)
			if got != tc.code || ft.e.errMsg != tc.msg {
				t.Errorf("fetch_start = %d, error_message %q\nwant %d, %q", got, ft.e.errMsg, tc.code, tc.msg)
			}
			n := ft.call(abi.FuncErrorMessage, headAt, headLen)
			if b, _ := ft.mod.Memory().Read(headAt, uint32(n)); string(b) != tc.msg {
				t.Errorf("error_message wrote %q", b)
			}
			if strings.Contains(ft.e.errMsg, "secret") {
				t.Errorf("error_message shows a secret: %q", ft.e.errMsg)
			}
			if ft.e.fetches != nil && len(ft.e.fetches.handles) > 0 {
				t.Errorf("a refused fetch_start made a handle")
			}
		})
	}
	if n, _ := up.stats(); n != 0 {
		t.Errorf("upstream got %d requests", n)
	}

	t.Run("no Outbound", func(t *testing.T) {
		ft := newFetchTestWith(t, nil)
		if got := ft.start(0, "", "GET", "http://127.0.0.1/x?token=1"); got != abi.ErrDenied {
			t.Errorf("fetch_start = %d, want ErrDenied", got)
		}
		if want := "fetch http://127.0.0.1/x: denied: this route has no allowedOutboundHosts"; ft.e.errMsg != want {
			t.Errorf("error_message %q, want %q", ft.e.errMsg, want)
		}
	})
}

// TestFetchRequest checks what the upstream receives: the method, URL and
// body as given, the guest's headers but those the host frames itself.
func TestFetchRequest(t *testing.T) {
	up := newUpstream(t)
	ft := newFetchTest(t, Outbound{})
	h := ft.start(0, "ping", "PUT", up.URL+"/echo?a=1",
		"X-Keep", "1", "x-keep", "2", "x-empty", "",
		"host", "evil.example", "connection", "close", "content-length", "999", "transfer-encoding", "chunked",
		"keep-alive", "1", "upgrade", "h2c", "te", "trailers", "trailer", "x", "proxy-authorization", "Basic x", "Proxy-Connection", "keep-alive")
	if h <= 0 {
		t.Fatalf("fetch_start = %d (%s)", h, ft.e.errMsg)
	}
	ft.wait(h)
	ft.head(h)
	body, code := ft.readAll(h)
	want := fmt.Sprintf(`PUT /echo?a=1 host=%s len=4 X-Empty=[""] X-Keep=["1" "2"] body="ping"`, up.Listener.Addr())
	if body != want || code != 0 {
		t.Errorf("upstream saw:\n%s (%d)\nwant:\n%s", body, code, want)
	}
}

// TestFetchParallel starts two 300 ms requests one after the other: both
// are done in about 300 ms, not 600.
func TestFetchParallel(t *testing.T) {
	up := newUpstream(t)
	ft := newFetchTest(t, Outbound{})
	start := time.Now()
	h1, h2 := ft.get(up.URL+"/slow?ms=300"), ft.get(up.URL+"/slow?ms=300")
	pending := []int32{h1, h2}
	for len(pending) > 0 {
		i := ft.poll(5000, pending...)
		if i < 0 {
			t.Fatalf("fetch_poll = %d", i)
		}
		h := pending[i]
		if body, code := ft.readAll(h); body != "slow" || code != 0 {
			t.Errorf("handle %d: %q, %d", h, body, code)
		}
		pending = slices.Delete(pending, int(i), int(i)+1)
	}
	elapsed := time.Since(start)
	if elapsed < 300*time.Millisecond || elapsed > 550*time.Millisecond {
		t.Errorf("two 300 ms fetches took %v, want about 300 ms", elapsed)
	}
	if _, peak := up.stats(); peak != 2 {
		t.Errorf("upstream saw at most %d requests at once, want 2", peak)
	}
}

func TestFetchLimits(t *testing.T) {
	t.Run("maxFetches", func(t *testing.T) {
		up := newUpstream(t)
		ft := newFetchTest(t, Outbound{MaxFetches: 2})
		ft.get(up.URL)
		ft.call(abi.FuncFetchClose, uint32(ft.get(up.URL))) // a closed handle still counts
		if got := ft.start(0, "", "GET", up.URL+"/x?secret=1"); got != abi.ErrLimit {
			t.Errorf("third fetch_start = %d, want ErrLimit", got)
		}
		if want := "fetch " + up.URL + "/x: this request reached its maxFetches (2): no more fetches"; ft.e.errMsg != want {
			t.Errorf("error_message %q, want %q", ft.e.errMsg, want)
		}
	})

	t.Run("request bodies", func(t *testing.T) {
		// Each body is copied out of guest memory and kept until sent: all
		// of a request's together stay within maxFetchBody.
		up := newUpstream(t)
		ft := newFetchTest(t, Outbound{MaxBody: 10})
		if h := ft.start(0, "123456", "POST", up.URL); h <= 0 {
			t.Fatalf("first POST = %d (%s)", h, ft.e.errMsg)
		}
		if got := ft.start(0, "12345", "POST", up.URL); got != abi.ErrTooLarge || !strings.Contains(ft.e.errMsg, "past its maxFetchBody (10 bytes, 6 sent)") {
			t.Errorf("second POST = %d (%s), want ErrTooLarge naming maxFetchBody", got, ft.e.errMsg)
		}
		if h := ft.start(0, "1234", "POST", up.URL); h <= 0 {
			t.Errorf("a POST within what is left = %d (%s)", h, ft.e.errMsg)
		}
	})

	t.Run("request head", func(t *testing.T) {
		ft := newFetchTest(t, Outbound{})
		if _, ok := ft.mod.Memory().Grow(2); !ok {
			t.Fatal("cannot grow the test guest's memory")
		}
		if got := ft.start(0, "", "GET", "http://127.0.0.1/", "x-big", strings.Repeat("v", 64<<10)); got != abi.ErrTooLarge || !strings.Contains(ft.e.errMsg, "over 65536") {
			t.Errorf("a 64 KiB header = %d (%s), want ErrTooLarge", got, ft.e.errMsg)
		}
	})

	t.Run("maxFetchConcurrency", func(t *testing.T) {
		up := newUpstream(t)
		ft := newFetchTest(t, Outbound{MaxConcurrency: 2})
		start := time.Now()
		var handles []int32
		for range 4 {
			handles = append(handles, ft.get(up.URL+"/slow?ms=200"))
		}
		if got := ft.poll(0, handles[2], handles[3]); got != abi.ErrPending {
			t.Errorf("fetch_poll of the fetches in line = %d, want ErrPending", got)
		}
		for _, h := range handles {
			ft.wait(h)
			if body, code := ft.readAll(h); body != "slow" || code != 0 {
				t.Errorf("handle %d: %q, %d", h, body, code)
			}
		}
		elapsed := time.Since(start)
		if elapsed < 400*time.Millisecond || elapsed > 750*time.Millisecond {
			t.Errorf("four 200 ms fetches two at a time took %v, want about 400 ms (800 one at a time)", elapsed)
		}
		if _, peak := up.stats(); peak != 2 {
			t.Errorf("upstream saw at most %d requests at once, want 2", peak)
		}
	})

	t.Run("a closed handle frees its slot", func(t *testing.T) {
		up := newUpstream(t)
		ft := newFetchTest(t, Outbound{MaxConcurrency: 1})
		h1 := ft.get(up.URL + "/wait")
		ft.wait(h1) // it runs
		h2 := ft.get(up.URL + "/slow?ms=0")
		h3 := ft.get(up.URL + "/slow?ms=0")
		ft.call(abi.FuncFetchClose, uint32(h2)) // out of line
		ft.call(abi.FuncFetchClose, uint32(h1)) // running
		ft.wait(h3)
		if body, code := ft.readAll(h3); body != "slow" {
			t.Errorf("handle 3: %q, %d", body, code)
		}
		up.waitCancelled(t, "/wait")
	})

	t.Run("maxFetchBody", func(t *testing.T) {
		up := newUpstream(t)
		ft := newFetchTest(t, Outbound{MaxBody: 100_000})
		for _, tc := range []struct {
			path string
			n    int
			code int32
		}{
			{"/big?n=100000", 100_000, 0},
			{"/big?n=100001", 100_000, abi.ErrTooLarge},
			{"/endless", 100_000, abi.ErrTooLarge},
		} {
			h := ft.get(up.URL + tc.path)
			ft.wait(h)
			body, code := ft.readAll(h)
			if len(body) != tc.n || code != tc.code {
				t.Errorf("%s: %d bytes, code %d; want %d, %d", tc.path, len(body), code, tc.n, tc.code)
			}
			if want := "fetch " + up.URL + "/endless: the response body is over maxFetchBody (100000 bytes)"; tc.path == "/endless" && ft.e.errMsg != want {
				t.Errorf("error_message %q, want %q", ft.e.errMsg, want)
			}
		}
		up.waitCancelled(t, "/endless") // the transfer was cut
	})
}

// TestFetchBackpressure checks that a body the guest does not read stops
// at 64 KiB in the host, and arrives whole once read.
func TestFetchBackpressure(t *testing.T) {
	up := newUpstream(t)
	ft := newFetchTest(t, Outbound{})
	const size = 4 << 20
	h := ft.get(up.URL + "/big?n=" + strconv.Itoa(size))
	ft.wait(h)
	ft.head(h)
	f := ft.e.handle(uint32(h))
	for range 50 {
		time.Sleep(2 * time.Millisecond)
		f.st.mu.Lock()
		buffered := len(f.buf) - f.off
		f.st.mu.Unlock()
		if buffered > fetchReadAhead {
			t.Fatalf("%d bytes buffered, over %d", buffered, fetchReadAhead)
		}
	}
	body, code := ft.readAll(h)
	if code != 0 || body != string(pattern(size)) {
		t.Errorf("read %d bytes, code %d; want the %d bytes sent", len(body), code, size)
	}
}

func TestFetchDeadline(t *testing.T) {
	up := newUpstream(t)
	for _, tc := range []struct {
		path string
		head bool // the head arrives, the body is cut
	}{
		{"/waithead", false},
		{"/drip", true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			ft := newFetchTest(t, Outbound{})
			ft.e.Deadline = time.Now().Add(300 * time.Millisecond)
			start := time.Now()
			h := ft.get(up.URL + tc.path + "?key=secret")
			ft.wait(h)
			code, _ := ft.head(h)
			if tc.head {
				if code <= 0 {
					t.Fatalf("fetch_head = %d (%s)", code, ft.e.errMsg)
				}
				_, code = ft.readAll(h)
			}
			elapsed := time.Since(start)
			want := "fetch " + up.URL + tc.path + ": the request's maxDuration ran out"
			if code != abi.ErrFailed || ft.e.errMsg != want {
				t.Errorf("code %d, error_message %q; want ErrFailed, %q", code, ft.e.errMsg, want)
			}
			if elapsed < 300*time.Millisecond || elapsed > 2*time.Second {
				t.Errorf("ended after %v, want 300 ms", elapsed)
			}
		})
	}
	t.Run("passed before the start", func(t *testing.T) {
		ft := newFetchTest(t, Outbound{})
		ft.e.Deadline = time.Now().Add(-time.Second)
		h := ft.get(up.URL)
		ft.wait(h)
		if code, _ := ft.head(h); code != abi.ErrFailed || !strings.HasSuffix(ft.e.errMsg, "the request's maxDuration ran out") {
			t.Errorf("fetch_head = %d, %q", code, ft.e.errMsg)
		}
	})
}

// TestFetchClientCancel cancels the call's context, as a client leaving
// does: the upstream request is cancelled too.
func TestFetchClientCancel(t *testing.T) {
	up := newUpstream(t)
	ft := newFetchTest(t, Outbound{})
	ctx, cancel := context.WithCancel(ft.ctx)
	ft.ctx = ctx
	ft.wait(ft.get(up.URL + "/wait")) // it runs
	cancel()
	up.waitCancelled(t, "/wait")
	// The guest is stopped at its next host call.
	var got any
	func() {
		defer func() { got = recover() }()
		fetchPollFn(ctx, ft.mod, []uint64{handlesAt, 1, api.EncodeI32(-1)})
	}()
	if exit, ok := got.(*sys.ExitError); !ok || exit.ExitCode() != sys.ExitCodeContextCanceled {
		t.Errorf("fetch_poll after the cancel: %v, want exit code %#x", got, sys.ExitCodeContextCanceled)
	}
}

// TestFetchEnd ends a request with fetches running, in line and read
// ahead: every goroutine ends, and the next request starts afresh.
func TestFetchEnd(t *testing.T) {
	up := newUpstream(t)
	ft := newFetchTest(t, Outbound{MaxConcurrency: 3})
	ft.get(up.URL + "/wait")
	ft.get(up.URL + "/endless")
	ft.get(up.URL + "/drip")
	ft.get(up.URL + "/slow?ms=10000") // in line
	h := ft.get(up.URL + "/big?n=10") // in line
	time.Sleep(100 * time.Millisecond)
	if n := fetchGoroutines(); n != 3 {
		t.Errorf("%d fetch goroutines, want 3", n)
	}
	ft.start(0, "", "GET", "ftp://x") // sets error_message
	ft.e.End()
	waitNoFetchGoroutines(t)
	for _, p := range []string{"/wait", "/endless", "/drip"} {
		up.waitCancelled(t, p)
	}
	if n, _ := up.stats(); n != 3 {
		t.Errorf("upstream got %d requests, want the 3 that were running", n)
	}
	if got, _ := ft.head(h); got != abi.ErrInvalid {
		t.Errorf("fetch_head of a handle of the ended request = %d, want ErrInvalid", got)
	}
	ft.e.End() // again: nothing to do

	ft.e.Reset(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
	if ft.e.errMsg != "" {
		t.Errorf("error_message after Reset: %q", ft.e.errMsg)
	}
	p, _ := outbound.Parse([]string{"http://127.0.0.1:*"}, "wasmroute.json")
	ft.e.Outbound = &Outbound{Client: p.Client(), Allow: p.Allow}
	if h := ft.get(up.URL); h != 1 {
		t.Errorf("first handle of the next request %d, want 1", h)
	}
	ft.e.Reset(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil) // ends it
	waitNoFetchGoroutines(t)
}

func TestFetchRedirects(t *testing.T) {
	up, other := newUpstream(t), newUpstream(t)
	port := func(u *upstream) string { return u.URL[strings.LastIndexByte(u.URL, ':')+1:] }
	to := func(target string) string { return up.URL + "/redirect?to=" + url.QueryEscape(target) }
	tests := []struct {
		name   string
		url    string
		flags  uint32
		head   []string // the status and URL
		header [2]string
		code   int32 // of fetch_head, when not a head
		msg    string
	}{
		{name: "followed", url: to("/hello"), head: []string{"200", up.URL + "/hello"}},
		{name: "followed twice", url: to(to("/hello?a=1")), head: []string{"200", up.URL + "/hello?a=1"}},
		{name: "manual", url: to("/hello"), flags: redirectManual, head: []string{"302", to("/hello")}, header: [2]string{"location", "/hello"}},
		{name: "error", url: to("/hello"), flags: redirectError, code: abi.ErrFailed,
			msg: "fetch " + up.URL + "/redirect: redirected (302) while the redirect mode is error"},
		{name: "to a host without an entry", url: to("https://denied.example/x?secret=1"), code: abi.ErrDenied,
			msg: "fetch " + up.URL + `/redirect: redirected to https://denied.example/x: denied: add "https://denied.example" to allowedOutboundHosts in wasmroute.json`},
		{name: "to loopback by name", url: to("http://localhost:" + port(other) + "/x"), code: abi.ErrDenied,
			msg: "fetch " + up.URL + "/redirect: dial "},
		{name: "to loopback by name, the message", url: to("http://localhost:" + port(other) + "/x"), code: abi.ErrDenied,
			msg: ":" + port(other) + `: address is loopback: add "http://`},
		{name: "to an address without an entry", url: to(other.URL + "/"), code: abi.ErrDenied,
			msg: "fetch " + up.URL + "/redirect: redirected to " + other.URL + `/: denied: add "` + other.URL + `" to allowedOutboundHosts in wasmroute.json`},
		{name: "11 hops", url: to(to(to(to(to(to(to(to(to(to(to("/hello"))))))))))), code: abi.ErrFailed,
			msg: "fetch " + up.URL + "/redirect: stopped after 10 redirects"},
		{name: "10 hops", url: to(to(to(to(to(to(to(to(to(to("/hello")))))))))), head: []string{"200", up.URL + "/hello"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := outbound.Parse([]string{"http://127.0.0.1:" + port(up), "http://localhost:*"}, "wasmroute.json")
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ft := newFetchTestWith(t, &Outbound{Client: p.Client(), Allow: p.Allow})
			h := ft.start(tc.flags, "", "GET", tc.url)
			ft.wait(h)
			code, head := ft.head(h)
			if tc.head == nil {
				if code != tc.code || !strings.Contains(ft.e.errMsg, tc.msg) || strings.Contains(ft.e.errMsg, "secret") {
					t.Errorf("fetch_head = %d, %q; want %d, %q", code, ft.e.errMsg, tc.code, tc.msg)
				}
				if got := ft.call(abi.FuncFetchBodyRead, uint32(h), readAt, 1); got != tc.code {
					t.Errorf("fetch_body_read = %d, want the fetch's error %d", got, tc.code)
				}
				return
			}
			if len(head) < 2 || !cmp.Equal(tc.head, head[:2]) {
				t.Errorf("head %q, want it to start %q", head, tc.head)
			}
			if tc.header[0] != "" && !slices.Contains(head, tc.header[1]) {
				t.Errorf("head %q lacks %q", head, tc.header)
			}
		})
	}
}

func TestFetchHead(t *testing.T) {
	up := newUpstream(t)
	ft := newFetchTest(t, Outbound{})
	waiting := ft.get(up.URL + "/waithead")
	if got := ft.call(abi.FuncFetchBodyRead, uint32(waiting), readAt, 1); got != abi.ErrInvalid || ft.e.errMsg != fmt.Sprintf("fetch_body_read: handle %d has no head yet: wait for it with fetch_poll", waiting) {
		t.Errorf("fetch_body_read before the head = %d, %q; want ErrInvalid", got, ft.e.errMsg)
	}
	if got, _ := ft.head(waiting); got != abi.ErrPending {
		t.Errorf("fetch_head before the head = %d, want ErrPending", got)
	}

	h := ft.start(0, "", "HEAD", up.URL+"/headers")
	ft.wait(h)
	// Too small a buffer: nothing written, not taken.
	reset(ft.mod)
	n := ft.call(abi.FuncFetchHead, uint32(h), headAt, 10)
	checkMemory(t, ft.mod)
	if got := ft.poll(0, h); got != 0 {
		t.Errorf("after a fetch_head with too small a buffer, fetch_poll = %d, want 0 (still ready)", got)
	}
	// A buffer ending at the end of memory, exactly the size.
	if got := ft.call(abi.FuncFetchHead, uint32(h), memSize-uint32(n), uint32(n)); got != n {
		t.Errorf("fetch_head = %d, want %d", got, n)
	}
	b, _ := ft.mod.Memory().Read(memSize-uint32(n), uint32(n))
	var got []string
	for rest := b; len(rest) > 0; {
		item, r, _ := abi.NextItem(rest)
		got, rest = append(got, string(item)), r
	}
	if i := slices.Index(got, "date"); i > 0 && i+1 < len(got) {
		got[i+1] = "(date)"
	}
	want := []string{"200", up.URL + "/headers",
		"content-length", "1", "content-type", "text/plain", "date", "(date)",
		"set-cookie", "a=1", "set-cookie", "b=2", "x-b", "1", "x-lower", "v"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("head (-want +got):\n%s", diff)
	}
	if got := ft.poll(5000, h); got != 0 {
		t.Errorf("fetch_poll after the head = %d, want 0 (the end of the body is ready)", got)
	}
	if got := ft.call(abi.FuncFetchBodyRead, uint32(h), readAt, readLen); got != 0 {
		t.Errorf("fetch_body_read of a HEAD = %d, want 0", got)
	}
	if got := ft.call(abi.FuncFetchBodyRead, uint32(h), readAt, 0); got != 0 {
		t.Errorf("fetch_body_read with no room = %d, want 0", got)
	}
}

func TestFetchPoll(t *testing.T) {
	up := newUpstream(t)
	ft := newFetchTest(t, Outbound{})
	h := ft.get(up.URL + "/waithead") // never ready
	tests := []struct {
		name    string
		handles []int32
		timeout int32
		want    int32
		msg     string
		minWait time.Duration
	}{
		{name: "not ready, no wait", handles: []int32{h}, timeout: 0, want: abi.ErrPending},
		{name: "not ready, 50 ms", handles: []int32{h}, timeout: 50, want: abi.ErrPending, minWait: 50 * time.Millisecond},
		{name: "a sleep", timeout: 50, want: abi.ErrPending, minWait: 50 * time.Millisecond},
		{name: "no handle, no timeout", timeout: -1, want: abi.ErrInvalid, msg: "fetch_poll: no handle and no timeout would wait forever"},
		{name: "unknown handle", handles: []int32{h, 7}, timeout: -1, want: abi.ErrInvalid, msg: "fetch_poll: handle 7 (index 1) is not open"},
		{name: "handle 0", handles: []int32{0}, timeout: -1, want: abi.ErrInvalid, msg: "fetch_poll: handle 0 (index 0) is not open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft.e.errMsg = ""
			start := time.Now()
			if got := ft.poll(tc.timeout, tc.handles...); got != tc.want || ft.e.errMsg != tc.msg {
				t.Errorf("fetch_poll = %d, %q; want %d, %q", got, ft.e.errMsg, tc.want, tc.msg)
			}
			if elapsed := time.Since(start); elapsed < tc.minWait {
				t.Errorf("returned after %v, want at least %v", elapsed, tc.minWait)
			}
		})
	}

	t.Run("count over 1024", func(t *testing.T) {
		// Checked before the range: this one is outside memory.
		if got := ft.call(abi.FuncFetchPoll, 0xFFFFFFF0, 1025, 0); got != abi.ErrInvalid || ft.e.errMsg != "fetch_poll: count 1025 is over 1024" {
			t.Errorf("fetch_poll = %d, %q", got, ft.e.errMsg)
		}
	})

	t.Run("ready first", func(t *testing.T) {
		h2 := ft.get(up.URL)
		if got := ft.poll(5000, h, h2, h); got != 1 {
			t.Errorf("fetch_poll = %d, want 1", got)
		}
	})

	t.Run("a closed handle", func(t *testing.T) {
		h3 := ft.get(up.URL)
		ft.call(abi.FuncFetchClose, uint32(h3))
		if got := ft.poll(0, h3); got != abi.ErrInvalid {
			t.Errorf("fetch_poll = %d, want ErrInvalid", got)
		}
		if got := ft.call(abi.FuncFetchClose, uint32(h3)); got != abi.ErrInvalid || ft.e.errMsg != fmt.Sprintf("fetch_close: handle %d is not open", h3) {
			t.Errorf("second fetch_close = %d, %q", got, ft.e.errMsg)
		}
	})

	t.Run("stopped", func(t *testing.T) {
		done := make(chan struct{})
		ft.e.Done = done
		defer func() { ft.e.Done = nil }()
		time.AfterFunc(50*time.Millisecond, func() { close(done) })
		start := time.Now()
		var got any
		func() {
			defer func() { got = recover() }()
			ft.poll(-1, h)
		}()
		if exit, ok := got.(*sys.ExitError); !ok || !errors.Is(exit, context.Canceled) {
			t.Errorf("fetch_poll, its request stopped: %v, want a *sys.ExitError", got)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("stopped after %v", elapsed)
		}
	})
}

// TestFetchPollOutOfBounds checks fetch_poll's (handles, 4×count) range.
func TestFetchPollOutOfBounds(t *testing.T) {
	ft := newFetchTest(t, Outbound{})
	for _, tc := range []struct{ ptr, count uint32 }{
		{memSize, 1}, {memSize - 3, 1}, {0xFFFFFFFF, 1}, {0xFFFFFFF0, 8}, {0, 1024}, {memSize - 4095, 1024},
	} {
		_, err := call(ft.ctx, fetchPollFn, ft.mod, tc.ptr, tc.count, 0)
		want := fmt.Sprintf("wasmroute_v1.fetch_poll: handles [%d, +%d) is outside memory (65536 bytes)", tc.ptr, 4*tc.count)
		if tc.ptr == 0 {
			want = ""
		}
		if got := fmt.Sprint(err); err != nil && got != want || err == nil && want != "" {
			t.Errorf("fetch_poll(%#x, %d): %v, want trap %q", tc.ptr, tc.count, err, want)
		}
	}
}

// TestFetchDialDenied checks a name allowed by an entry whose address is
// not: the fetch's error is ErrDenied, naming the entry for the address.
func TestFetchDialDenied(t *testing.T) {
	up := newUpstream(t)
	port := up.URL[strings.LastIndexByte(up.URL, ':')+1:]
	p, err := outbound.Parse([]string{"http://localhost:" + port}, "app/api/route.json")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ft := newFetchTestWith(t, &Outbound{Client: p.Client(), Allow: p.Allow})
	h := ft.get("http://localhost:" + port + "/x")
	ft.wait(h)
	code, _ := ft.head(h)
	want4 := `fetch http://localhost:` + port + `/x: dial 127.0.0.1:` + port + `: address is loopback: add "http://127.0.0.1:` + port + `" to allowedOutboundHosts in app/api/route.json to allow it`
	want6 := `fetch http://localhost:` + port + `/x: dial [::1]:` + port + `: address is loopback: add "http://[::1]:` + port + `" to allowedOutboundHosts in app/api/route.json to allow it`
	if code != abi.ErrDenied || ft.e.errMsg != want4 && ft.e.errMsg != want6 {
		t.Errorf("fetch_head = %d, %q\nwant ErrDenied, %q", code, ft.e.errMsg, want4)
	}
	if n, _ := up.stats(); n != 0 {
		t.Errorf("upstream got %d requests", n)
	}
}

// TestFetchFailed checks an upstream that is not there.
func TestFetchFailed(t *testing.T) {
	up := newUpstream(t)
	u := up.URL
	up.Close()
	ft := newFetchTest(t, Outbound{})
	h := ft.get(u + "/?secret=1")
	ft.wait(h)
	code, _ := ft.head(h)
	if code != abi.ErrFailed || !strings.HasPrefix(ft.e.errMsg, "fetch "+u+"/: dial tcp ") || !strings.Contains(ft.e.errMsg, "refused") {
		t.Errorf("fetch_head = %d, %q; want ErrFailed, connection refused", code, ft.e.errMsg)
	}
}
