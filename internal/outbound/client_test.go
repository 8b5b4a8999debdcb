package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// server is an httptest server on 127.0.0.1 that counts its requests:
// /hop/N redirects to /hop/N-1 (N hops in all), /to?url=U redirects to U,
// /echo answers with the request's host and credential headers, anything
// else "ok".
type server struct {
	*httptest.Server
	hits atomic.Int32
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := new(server)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		switch {
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
			if n > 0 {
				http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
				return
			}
		case r.URL.Path == "/to":
			http.Redirect(w, r, r.URL.Query().Get("url"), http.StatusTemporaryRedirect)
			return
		case r.URL.Path == "/echo":
			fmt.Fprintf(w, "host=%s authorization=%q cookie=%q proxy-authorization=%q x-other=%q referer-key=%t",
				r.Host, r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Header.Get("Proxy-Authorization"), r.Header.Get("X-Other"),
				strings.Contains(r.Header.Get("Referer"), "SECRET"))
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// port returns s's port.
func (s *server) port() string {
	u, _ := url.Parse(s.URL)
	return u.Port()
}

func get(t *testing.T, p *Policy, target string, header http.Header) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := p.Client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func mustParse(t *testing.T, entries ...string) *Policy {
	t.Helper()
	p, err := Parse(entries, "wasmroute.json")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestClient(t *testing.T) {
	a, b := newServer(t), newServer(t)
	pa, pb := a.port(), b.port()
	p := mustParse(t, "http://127.0.0.1:"+pa, "http://localhost:"+pb)

	tests := []struct {
		name   string
		url    string
		body   string // want, on success
		denied string // want a *DeniedError with this message...
		alt    string // ... or this one (the other loopback address of localhost)
		err    string // want another error containing this
	}{
		{name: "allowed IP literal", url: a.URL + "/", body: "ok"},
		{name: "no entry", url: b.URL + "/",
			denied: `fetch http://127.0.0.1:` + pb + `/: denied: add "http://127.0.0.1:` + pb + `" to allowedOutboundHosts in wasmroute.json`},
		{name: "a name that resolves to loopback (DNS rebinding)", url: "http://localhost:" + pb + "/",
			denied: `dial 127.0.0.1:` + pb + `: address is loopback: add "http://127.0.0.1:` + pb + `" to allowedOutboundHosts in wasmroute.json to allow it`,
			alt:    `dial [::1]:` + pb + `: address is loopback: add "http://[::1]:` + pb + `" to allowedOutboundHosts in wasmroute.json to allow it`},
		{name: "10 redirects", url: a.URL + "/hop/10", body: "ok"},
		{name: "11 redirects", url: a.URL + "/hop/11", err: "stopped after 10 redirects"},
		{name: "redirect to a host without an entry", url: a.URL + "/to?url=" + url.QueryEscape("http://denied.example/x?secret=1"),
			denied: `fetch http://denied.example/x: denied: add "http://denied.example" to allowedOutboundHosts in wasmroute.json`},
		{name: "redirect to a loopback port without an entry", url: a.URL + "/to?url=" + url.QueryEscape(b.URL+"/"),
			denied: `fetch http://127.0.0.1:` + pb + `/: denied: add "http://127.0.0.1:` + pb + `" to allowedOutboundHosts in wasmroute.json`},
		{name: "redirect to a name that resolves to loopback", url: a.URL + "/to?url=" + url.QueryEscape("http://localhost:"+pb+"/"),
			denied: `dial 127.0.0.1:` + pb + `: address is loopback: add "http://127.0.0.1:` + pb + `" to allowedOutboundHosts in wasmroute.json to allow it`,
			alt:    `dial [::1]:` + pb + `: address is loopback: add "http://[::1]:` + pb + `" to allowedOutboundHosts in wasmroute.json to allow it`},
		{name: "redirect to another scheme", url: a.URL + "/to?url=" + url.QueryEscape("ftp://127.0.0.1/"),
			denied: `fetch ftp://127.0.0.1/: denied: only http and https`},
		{name: "a user's URL with userinfo is still checked", url: "http://user:pw@127.0.0.1:" + pb + "/",
			denied: `fetch http://127.0.0.1:` + pb + `/: denied: add "http://127.0.0.1:` + pb + `" to allowedOutboundHosts in wasmroute.json`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hitsB := b.hits.Load()
			got, err := get(t, p, tc.url, nil)
			var d *DeniedError
			switch {
			case tc.denied != "":
				if !errors.As(err, &d) {
					t.Fatalf("error %v (%T), want a *DeniedError", err, err)
				}
				if d.Error() != tc.denied && d.Error() != tc.alt {
					t.Errorf("denied:\n%s\nwant:\n%s", d, tc.denied)
				}
				if strings.Contains(d.Error(), "secret") || strings.Contains(d.Error(), "pw@") {
					t.Errorf("denial %q shows a secret", d)
				}
			case tc.err != "":
				if err == nil || errors.As(err, &d) || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want one (not denied) containing %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case got != tc.body:
				t.Errorf("body %q, want %q", got, tc.body)
			}
			if n := b.hits.Load() - hitsB; n != 0 {
				t.Errorf("server b, which no entry allows, got %d requests", n)
			}
		})
	}
}

// TestClientCredentials follows redirects carrying credentials: they go
// on within the first request's origin (scheme, host and port), and are
// dropped once a redirect left it, even for the same host on another port,
// and so is the Referer net/http sets, which holds the previous URL's query.
func TestClientCredentials(t *testing.T) {
	a, b := newServer(t), newServer(t)
	p := mustParse(t, "http://127.0.0.1:*")
	header := http.Header{
		"Authorization":       {"Bearer secret"},
		"Cookie":              {"session=1"},
		"Proxy-Authorization": {"Basic eA=="},
		"X-Other":             {"kept"},
	}
	to := func(s *server, next string) string { return s.URL + "/to?key=SECRET&url=" + url.QueryEscape(next) }
	const (
		with    = `authorization="Bearer secret" cookie="session=1" proxy-authorization="Basic eA==" x-other="kept"`
		without = `authorization="" cookie="" proxy-authorization="" x-other="kept" referer-key=false`
	)
	tests := []struct{ name, url, host, want string }{
		{"no redirect", a.URL + "/echo", a.Listener.Addr().String(), with + " referer-key=false"},
		{"same origin", to(a, "/echo"), a.Listener.Addr().String(), with + " referer-key=true"},
		{"same host, another port", to(a, b.URL+"/echo"), b.Listener.Addr().String(), without},
		{"away and back", to(a, to(b, a.URL+"/echo")), a.Listener.Addr().String(), without},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := get(t, p, tc.url, header)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("host="+tc.host+" "+tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestClientHost checks that a request goes where its URL says, with the
// URL's host in its Host header, whatever its Host field or header say.
func TestClientHost(t *testing.T) {
	a := newServer(t)
	p := mustParse(t, "http://127.0.0.1:"+a.port())
	req, err := http.NewRequest("GET", a.URL+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example"
	req.Header.Set("Host", "evil.example")
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := "host=" + a.Listener.Addr().String() + " "; !strings.HasPrefix(string(body), want) {
		t.Errorf("server saw %q, want %q", body, want)
	}
	if req.Host != "evil.example" || req.Header.Get("Host") != "evil.example" {
		t.Errorf("the caller's request was changed: Host %q, header %q", req.Host, req.Header.Get("Host"))
	}
}

// TestClientHTTP2 checks that HTTP/2 is used over TLS, the dialer
// checking the address as for HTTP/1.
func TestClientHTTP2(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	defer s.Close()
	u, _ := url.Parse(s.URL)
	for _, tc := range []struct{ entries, want string }{
		{"https://127.0.0.1:" + u.Port(), "HTTP/2.0"},
		{"https://localhost:" + u.Port(), "address is loopback"},
	} {
		p := mustParse(t, tc.entries)
		p.transport.TLSClientConfig = s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		target := strings.Replace(s.URL, "127.0.0.1", u.Hostname(), 1)
		if strings.Contains(tc.entries, "localhost") {
			target = "https://localhost:" + u.Port()
		}
		got, err := get(t, p, target, nil)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.entries, got, tc.want)
		}
	}
}

// TestClientPerPolicy checks that policies share no transport, and that
// none takes its proxy from the environment.
func TestClientPerPolicy(t *testing.T) {
	p1, p2 := mustParse(t, "http://127.0.0.1:*"), mustParse(t, "http://127.0.0.1:*")
	if p1.Client() != p1.Client() {
		t.Error("a policy's Client changes from call to call")
	}
	if p1.Client() == p2.Client() || p1.transport == p2.transport {
		t.Error("two policies share a client or transport")
	}
	if p1.transport.Proxy != nil {
		t.Error("the transport has a proxy")
	}
	a := newServer(t)
	if _, err := get(t, p1, a.URL, nil); err != nil {
		t.Fatal(err)
	}
	p1.Close() // idle connections closed; the client stays usable
	if _, err := get(t, p1, a.URL, nil); err != nil {
		t.Fatal(err)
	}
}

// TestClientDialEndsWithRequest checks that a connection still in its TLS
// handshake (a server that accepts and never answers) is closed when its
// request's context ends, not when the handshake times out: a guest that
// starts and cancels fetches to such a host must not leave sockets behind.
func TestClientDialEndsWithRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan struct{}, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c) // the ClientHello, then EOF when the client lets go
		closed <- struct{}{}
		c.Close()
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	p := mustParse(t, "https://127.0.0.1:"+port)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://127.0.0.1:"+port+"/", nil)
	if _, err := p.Client().Do(req); err == nil {
		t.Fatal("a request to a server that never answers its handshake succeeded")
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Error("the connection was still open 2s after its request ended")
	}
}
