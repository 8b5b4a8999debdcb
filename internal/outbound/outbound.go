// Package outbound decides where a route's guest may send HTTP requests
// (abi.FuncFetchStart) and sends them: a Policy parsed from the route's
// allowedOutboundHosts, and the http.Client that enforces it down to the
// address it dials.
//
//	p, err := outbound.Parse([]string{"https://api.example.com", "http://127.0.0.1:*"}, "wasmroute.json")
//	if err != nil {
//		return err // names the bad entry and what is wrong with it
//	}
//	defer p.Close()
//	if err := p.Allow(u); err != nil {
//		return err // `fetch https://other.example/x: denied: add "https://other.example" to allowedOutboundHosts in wasmroute.json`
//	}
//	resp, err := p.Client().Do(req) // each redirect and each address dialled checked again
//
// # Entries
//
// An entry is scheme://host[:port], as Spin writes them:
//
//   - scheme: http, https or * (both);
//   - host: a name (matched ignoring case and a trailing dot), *. followed by
//     a name (one or more labels before it: *.example.org matches
//     a.example.org and a.b.example.org, not example.org), an IP literal
//     (127.0.0.1, [::1]) or * (any host);
//   - port: a number or *; without one, the scheme's (80 for http, 443 for
//     https, either for *).
//
// There is no path, query or userinfo. No entry: every request is denied.
//
// # Two checks
//
// Allow matches a URL against the entries before anything is sent. The
// Client then checks the address it actually connects to, after DNS, on
// every connection (a net.Dialer Control hook): loopback, private (RFC 1918),
// link-local (cloud metadata at 169.254.169.254), shared (CGNAT),
// unique-local, unspecified, multicast, broadcast and other special-purpose
// addresses, and their IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo
// forms, are refused unless an entry names that IP literal (and the port).
// So a name that resolves to 127.0.0.1, be it by accident or a DNS
// rebinding attack, is refused like the literal; and a "*" entry reaches
// the Internet, not the host's network.
//
// Both refusals are a *DeniedError (errors.As), whose message names the
// entry that would allow the request; anything else that goes wrong is the
// error net/http returns.
package outbound

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Policy is a parsed allow-list: what a route's guest may reach, and the
// http.Client that reaches only that. Build one with Parse. Its methods are
// safe for concurrent use.
type Policy struct {
	entries   []entry
	source    string
	transport *http.Transport
	client    *http.Client
}

// entry is one allowedOutboundHosts entry.
type entry struct {
	text   string // as written, for messages
	scheme string // "http", "https" or "*"
	kind   hostKind
	name   string     // hostName: the name; hostSuffix: what follows "*."; lowercase, no trailing dot
	ip     netip.Addr // hostIP, never IPv4-mapped
	port   int        // 1..65535, portDefault or portAny
}

type hostKind uint8

const (
	hostName   hostKind = iota // example.org
	hostSuffix                 // *.example.org
	hostAny                    // *
	hostIP                     // 127.0.0.1, [::1]
)

const (
	portDefault = 0  // the scheme's
	portAny     = -1 // *
)

// Parse returns the Policy of entries, the allowedOutboundHosts read from
// source. source names where they came from ("wasmroute.json",
// "app/api/route.json", "--allow-outbound") for the messages of denials,
// which tell the guest's author where to add an entry. No entries (nil
// included) makes a Policy that denies everything.
//
// An error names every bad entry and what is wrong with it.
func Parse(entries []string, source string) (*Policy, error) {
	p := &Policy{source: source}
	var errs []error
	for _, s := range entries {
		e, err := parseEntry(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("allowedOutboundHosts in %s: %q: %w", source, s, err))
			continue
		}
		p.entries = append(p.entries, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.transport, p.client = p.newClient()
	return p, nil
}

func parseEntry(s string) (entry, error) {
	const form = "want scheme://host[:port]"
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return entry{}, errors.New("no scheme: " + form)
	}
	e := entry{text: s, scheme: strings.ToLower(scheme)}
	switch e.scheme {
	case "http", "https", "*":
	default:
		return entry{}, fmt.Errorf("scheme %q: want http, https or *", scheme)
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return entry{}, fmt.Errorf("has a path, query or fragment (%q): %s", rest[i:], form)
	}
	if strings.Contains(rest, "@") {
		return entry{}, errors.New("has userinfo: " + form)
	}
	host, port, hasPort, err := splitHostPort(rest)
	if err != nil {
		return entry{}, err
	}
	if hasPort {
		if e.port, err = parsePort(port, true); err != nil {
			return entry{}, err
		}
	}
	switch bracketed := strings.HasPrefix(rest, "["); {
	case bracketed:
		ip, err := netip.ParseAddr(host)
		switch {
		case err != nil || ip.Zone() != "":
			return entry{}, fmt.Errorf("[%s] is not an IPv6 address (zones are not allowed)", host)
		case ip.Is4():
			return entry{}, fmt.Errorf("[%s]: brackets are for IPv6 addresses, write %s", host, host)
		}
		e.kind, e.ip = hostIP, ip.Unmap()
	case host == "*":
		e.kind = hostAny
	case strings.HasPrefix(host, "*."):
		e.kind, e.name = hostSuffix, canonicalName(host[2:])
		if err := checkName(e.name); err != nil {
			return entry{}, err
		}
	case strings.Contains(host, "*"):
		return entry{}, fmt.Errorf("host %q: a wildcard is allowed only as the whole host (*) or as its first label (*.example.org)", host)
	default:
		if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
			e.kind, e.ip = hostIP, ip
			break
		}
		e.kind, e.name = hostName, canonicalName(host)
		if err := checkName(e.name); err != nil {
			return entry{}, err
		}
	}
	return e, nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(s string) (host, port string, hasPort bool, err error) {
	if s == "" {
		return "", "", false, errors.New("no host: want scheme://host[:port]")
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, errors.New("no ] after an IPv6 address")
		}
		host, after := s[1:end], s[end+1:]
		switch {
		case after == "":
			return host, "", false, nil
		case after[0] != ':':
			return "", "", false, fmt.Errorf("%q after ]: want :port", after)
		}
		return host, after[1:], true, nil
	}
	host, port, hasPort = strings.Cut(s, ":")
	if strings.Contains(port, ":") {
		return "", "", false, fmt.Errorf("%q: an IPv6 address goes in brackets, as in [::1]", s)
	}
	if host == "" {
		return "", "", false, errors.New("no host: want scheme://host[:port]")
	}
	return host, port, hasPort, nil
}

// parsePort parses a port, 1 to 65535 in decimal, or "*" if any is true.
func parsePort(s string, any bool) (int, error) {
	if s == "*" && any {
		return portAny, nil
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' || n > 65535 {
			n = -1
			break
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q: want 1 to 65535 or *", s)
	}
	return n, nil
}

// canonicalName lowercases a host name and drops one trailing dot.
func canonicalName(s string) string {
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

// checkName reports what is wrong with a lowercase host name: labels of 1
// to 63 letters, digits, '-' and '_', at most 253 bytes, the last label not
// all digits (127.1 and 0x7f.1 are IP addresses in forms some resolvers
// accept: an entry names an IP address in standard form or not at all).
func checkName(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("host %q: a name has 1 to 253 characters", name)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("host %q: a label has 1 to 63 characters", name)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("host %q: %q is not allowed in a host name", name, c)
			}
		}
	}
	if _, err := strconv.ParseUint(labels[len(labels)-1], 10, 64); err == nil || strings.HasPrefix(labels[len(labels)-1], "0x") {
		return fmt.Errorf("host %q is neither a name nor an IP address in standard form", name)
	}
	return nil
}

// target is a URL's destination as entries match it.
type target struct {
	scheme string     // "http" or "https"
	host   string     // lowercase, no trailing dot; for an IP, its standard form
	ip     netip.Addr // valid for an IP literal, never IPv4-mapped
	port   int        // never portDefault
}

// targetOf returns u's destination, or why it cannot be one.
func targetOf(u *url.URL) (target, string) {
	t := target{scheme: strings.ToLower(u.Scheme)}
	switch t.scheme {
	case "http", "https":
	default:
		return t, "only http and https"
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return t, "the URL has no host"
	}
	t.host = canonicalName(u.Hostname())
	if ip, err := netip.ParseAddr(t.host); err == nil {
		if ip.Zone() != "" {
			return t, "an IPv6 zone is not allowed"
		}
		t.ip = ip.Unmap()
		t.host = t.ip.String()
	}
	t.port = defaultPort(t.scheme)
	if p := u.Port(); p != "" {
		n, err := parsePort(p, false)
		if err != nil {
			return t, "the URL's " + err.Error()
		}
		t.port = n
	}
	return t, ""
}

func defaultPort(scheme string) int {
	if scheme == "https" {
		return 443
	}
	return 80
}

// entryFor returns the entry that allows exactly scheme://host:port, the
// port left out when it is the scheme's.
func entryFor(scheme, host string, ip netip.Addr, port int) string {
	if ip.Is6() {
		host = "[" + ip.String() + "]"
	} else if ip.IsValid() {
		host = ip.String()
	}
	if port == defaultPort(scheme) {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + strconv.Itoa(port)
}

// Allow reports whether the guest may send a request to u: nil if an entry
// matches its scheme, host and port; otherwise a *DeniedError saying which
// entry to add, e.g.
//
//	fetch https://api.example.com/v1/x: denied: add "https://api.example.com" to allowedOutboundHosts in wasmroute.json
//
// or why none could ("only http and https"). The message shows u without
// userinfo, query or fragment (see Redacted). Allow looks at the URL only:
// the Client checks the addresses it dials.
func (p *Policy) Allow(u *url.URL) error {
	t, why := targetOf(u)
	if why != "" {
		return &DeniedError{URL: Redacted(u), Reason: why, Source: p.source}
	}
	for i := range p.entries {
		if p.entries[i].matches(t) {
			return nil
		}
	}
	return &DeniedError{URL: Redacted(u), Entry: entryFor(t.scheme, t.host, t.ip, t.port), Source: p.source}
}

func (e *entry) matches(t target) bool {
	return (e.scheme == "*" || e.scheme == t.scheme) && e.matchesPort(t.scheme, t.port) && e.matchesHost(t)
}

func (e *entry) matchesPort(scheme string, port int) bool {
	switch e.port {
	case portAny:
		return true
	case portDefault:
		return port == defaultPort(scheme)
	}
	return port == e.port
}

func (e *entry) matchesHost(t target) bool {
	switch e.kind {
	case hostAny:
		return true
	case hostIP:
		return t.ip == e.ip
	case hostSuffix:
		return !t.ip.IsValid() && len(t.host) > len(e.name)+1 && strings.HasSuffix(t.host, e.name) && t.host[len(t.host)-len(e.name)-1] == '.'
	}
	return !t.ip.IsValid() && t.host == e.name
}

// Within reports the entries of p that ceiling does not cover, nil if
// none: an operator hosting several tenants sets a ceiling, and a tenant's
// route may allow no more than it. An entry is covered when, for each
// scheme it allows, some ceiling entry allows that scheme (equal or *),
// every host the entry matches (* covers any name, *.example.org covers
// a.example.org and *.a.example.org) and its port (equal, the same
// default, or *). An IP-literal entry is covered only by a ceiling entry
// naming the same IP literal, never by a wildcard: an IP literal is what
// lets a guest reach a private address.
func (p *Policy) Within(ceiling *Policy) error {
	var out []string
	for i := range p.entries {
		if !ceiling.covers(&p.entries[i]) {
			out = append(out, strconv.Quote(p.entries[i].text))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return fmt.Errorf("allowedOutboundHosts in %s: %s not within the operator's allowedOutboundHosts in %s", p.source, strings.Join(out, ", "), ceiling.source)
}

func (p *Policy) covers(e *entry) bool {
	schemes := []string{e.scheme}
	if e.scheme == "*" {
		schemes = []string{"http", "https"}
	}
	for _, s := range schemes {
		covered := false
		for i := range p.entries {
			c := &p.entries[i]
			if (c.scheme == "*" || c.scheme == s) && c.coversPort(e, s) && c.coversHost(e) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

func (c *entry) coversPort(e *entry, scheme string) bool {
	switch {
	case c.port == portAny:
		return true
	case e.port == portAny:
		return false
	}
	return resolvePort(c.port, scheme) == resolvePort(e.port, scheme)
}

func resolvePort(port int, scheme string) int {
	if port == portDefault {
		return defaultPort(scheme)
	}
	return port
}

func (c *entry) coversHost(e *entry) bool {
	if e.kind == hostIP || c.kind == hostIP {
		return e.kind == hostIP && c.kind == hostIP && e.ip == c.ip
	}
	switch c.kind {
	case hostAny:
		return true
	case hostSuffix:
		return (e.kind == hostName || e.kind == hostSuffix) && strings.HasSuffix("."+e.name, "."+c.name) && (e.kind == hostSuffix || e.name != c.name)
	}
	return e.kind == hostName && e.name == c.name
}

// Redacted returns u as messages show it: without userinfo, query or
// fragment, which may hold secrets a log must not keep.
func Redacted(u *url.URL) string {
	v := *u
	v.User, v.Opaque = nil, ""
	v.RawQuery, v.ForceQuery = "", false
	v.Fragment, v.RawFragment = "", ""
	return v.String()
}

// DeniedError is a request the Policy refused: by Allow (URL set), on a
// redirect the Client would have followed (URL set), or at dial time (Addr
// set). Its message says what entry would allow it, or why none could.
type DeniedError struct {
	// URL is the refused URL, Redacted; empty when refused at dial time.
	URL string
	// Addr is the refused address, "ip:port", when refused at dial time.
	Addr string
	// Reason says why no entry could allow the URL ("only http and
	// https"), or, at dial time, what the address is ("loopback").
	Reason string
	// Entry is the allowedOutboundHosts entry that would allow it, or
	// empty when none could.
	Entry string
	// Source is where the Policy's entries came from, as given to Parse.
	Source string
}

func (e *DeniedError) Error() string {
	var b strings.Builder
	if e.Addr != "" {
		b.WriteString("dial " + e.Addr + ": address is " + e.Reason)
		if e.Entry != "" {
			b.WriteString(": ")
			e.writeAdd(&b)
			b.WriteString(" to allow it")
		}
		return b.String()
	}
	b.WriteString("fetch " + e.URL + ": denied: ")
	if e.Entry == "" {
		b.WriteString(e.Reason)
	} else {
		e.writeAdd(&b)
	}
	return b.String()
}

func (e *DeniedError) writeAdd(b *strings.Builder) {
	b.WriteString(`add "` + e.Entry + `" to allowedOutboundHosts`)
	if e.Source != "" {
		b.WriteString(" in " + e.Source)
	}
}
