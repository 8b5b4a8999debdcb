package outbound

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects the Client follows for one request;
// the next fails.
const MaxRedirects = 10

// MaxResponseHeaderBytes bounds the response head the Client reads.
const MaxResponseHeaderBytes = 64 << 10

// Client returns the http.Client that sends the requests p allows: it is
// the same for every call, and no other Policy's Client shares its
// connections (a connection dialled under one policy's IP allowances never
// carries another policy's request). It is safe for concurrent use.
//
// # Notes
//
//   - Every request, redirects included, is checked with Allow; a refused
//     one fails with a *DeniedError before anything is sent.
//   - Every address dialled, after DNS, is checked: see the package
//     documentation. A refused one fails the request with a *DeniedError
//     whose Addr is set, e.g. `dial 127.0.0.1:8080: address is loopback:
//     add "http://127.0.0.1:8080" to allowedOutboundHosts in wasmroute.json
//     to allow it`.
//   - The request goes where its URL says: its Host field and header are
//     ignored, so that an allowed server's address cannot serve another
//     site's name.
//   - No proxy, whatever the environment says. HTTP/2 over TLS when the
//     server offers it.
//   - Redirects are followed up to MaxRedirects; the authorization, cookie,
//     proxy-authorization and referer headers are dropped once a redirect
//     leaves the origin (scheme, host and port) of the first request.
//   - A dial ends when the request it is for ends (its context), and a
//     host has at most MaxConnsPerHost connections: a guest cannot keep
//     sockets open past its requests.
//   - The response head is at most MaxResponseHeaderBytes. The client has
//     no overall timeout: give each request a context with a deadline.
//   - The *url.Error its Do returns shows the URL whole, query included:
//     show the *DeniedError inside it, or Redacted, rather than log it.
func (p *Policy) Client() *http.Client { return p.client }

// Close closes the idle connections of p's Client. The Client stays usable.
func (p *Policy) Close() { p.transport.CloseIdleConnections() }

func (p *Policy) newClient() (*http.Transport, *http.Client) {
	d := &net.Dialer{
		Timeout:        10 * time.Second,
		KeepAlive:      30 * time.Second,
		ControlContext: p.control,
	}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer(d),
		MaxConnsPerHost:        MaxConnsPerHost,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    8,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
	t.DialTLSContext = tlsDialer(t, t.DialContext)
	c := &http.Client{
		Transport:     &transport{p: p, t: t},
		CheckRedirect: p.checkRedirect,
	}
	return t, c
}

// MaxConnsPerHost bounds a Policy's connections to one host, dialling,
// in use or idle: past it requests wait for one. With the dials that end
// with their request (dialer), it bounds the sockets guests can hold open.
const MaxConnsPerHost = 64

// requestKey is the context key of the context of the request a dial is
// for: http.Transport dials with a context that keeps the request's values
// but not its cancellation, so that a dial may serve another request; a
// dial for a guest's fetch ends when that fetch does, or a guest that
// starts and cancels fetches to a host that never answers would leave a
// socket dialling for every one, long after its request.
type requestKey struct{}

// dialer wraps d's DialContext: the dial ends when the context of the
// request it is for (requestKey) does.
func dialer(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if rc, ok := ctx.Value(requestKey{}).(context.Context); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(rc, cancel)()
		}
		return d.DialContext(ctx, network, addr)
	}
}

// tlsDialer dials with dial, then makes the TLS handshake (t's
// TLSClientConfig, HTTP/2 offered), within TLSHandshakeTimeout and, as
// dial, only while the request it is for lasts: http.Transport's own
// handshake would outlive it.
func tlsDialer(t *http.Transport, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, t.TLSHandshakeTimeout)
		defer cancel()
		if rc, ok := ctx.Value(requestKey{}).(context.Context); ok {
			defer context.AfterFunc(rc, cancel)()
		}
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := &tls.Config{}
		if t.TLSClientConfig != nil {
			cfg = t.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"h2", "http/1.1"}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
}

// transport checks each request with Allow, sends it to its URL's host
// whatever its Host says, and tells the dialer its scheme.
type transport struct {
	p *Policy
	t *http.Transport
}

// schemeKey is the context key of the scheme a dial is for, as control
// reads it: the transport dials with a context holding the request's values.
type schemeKey struct{}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.p.Allow(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	ctx := context.WithValue(req.Context(), schemeKey{}, strings.ToLower(req.URL.Scheme))
	r := req.WithContext(context.WithValue(ctx, requestKey{}, req.Context()))
	r.Host = ""
	if _, ok := r.Header["Host"]; ok {
		r.Header = r.Header.Clone()
		delete(r.Header, "Host")
	}
	return t.t.RoundTrip(r)
}

func (t *transport) CloseIdleConnections() { t.t.CloseIdleConnections() }

// checkRedirect is the Client's CheckRedirect: at most MaxRedirects, each
// allowed, credentials dropped once the origin changed.
func (p *Policy) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	if err := p.Allow(req.URL); err != nil {
		return err
	}
	first := origin(via[0])
	left := origin(req) != first
	for _, r := range via[1:] {
		left = left || origin(r) != first
	}
	if left {
		// net/http sets Referer to the previous URL, query included: an
		// API key there must not reach another origin either.
		for _, h := range [...]string{"Authorization", "Cookie", "Proxy-Authorization", "Referer"} {
			req.Header.Del(h)
		}
	}
	return nil
}

// origin returns r's scheme, host and port (Allow has accepted its URL).
func origin(r *http.Request) string {
	t, _ := targetOf(r.URL)
	return entryFor(t.scheme, t.host, t.ip, t.port)
}

// control checks the address the dialer is about to connect to: refused
// unless it is a public address or an entry names it (its IP literal, the
// port, and the scheme of the request, when the context carries it).
func (p *Policy) control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	scheme, _ := ctx.Value(schemeKey{}).(string)
	ap, err := netip.ParseAddrPort(address)
	switch {
	case network != "tcp4" && network != "tcp6":
		return &DeniedError{Addr: address, Reason: "not TCP (" + network + ")"}
	case err != nil:
		return &DeniedError{Addr: address, Reason: "not an IP address and port"}
	}
	ip, port := ap.Addr().WithZone("").Unmap(), int(ap.Port())
	if p.allowsAddr(scheme, ip, port) {
		return nil
	}
	why := refusal(ap.Addr())
	if why == "" {
		return nil
	}
	if scheme == "" {
		scheme = "http"
	}
	return &DeniedError{Addr: address, Reason: why, Entry: entryFor(scheme, "", ip, port), Source: p.source}
}

// allowsAddr reports whether an IP-literal entry names ip, port and scheme
// ("" matches any).
func (p *Policy) allowsAddr(scheme string, ip netip.Addr, port int) bool {
	for i := range p.entries {
		e := &p.entries[i]
		if e.kind != hostIP || e.ip != ip || scheme != "" && e.scheme != "*" && e.scheme != scheme {
			continue
		}
		if e.port == portAny || e.port == port || e.port == portDefault && (scheme == "" && (port == 80 || port == 443) || scheme != "" && port == defaultPort(scheme)) {
			return true
		}
	}
	return false
}
