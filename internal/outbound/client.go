package outbound

import (
	"context"
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
//   - Redirects are followed up to MaxRedirects; the authorization, cookie
//     and proxy-authorization headers are dropped once a redirect leaves
//     the origin (scheme, host and port) of the first request.
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
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    8,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
	c := &http.Client{
		Transport:     &transport{p: p, t: t},
		CheckRedirect: p.checkRedirect,
	}
	return t, c
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
	r := req.WithContext(context.WithValue(req.Context(), schemeKey{}, strings.ToLower(req.URL.Scheme)))
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
		for _, h := range [...]string{"Authorization", "Cookie", "Proxy-Authorization"} {
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
