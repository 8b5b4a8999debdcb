package runtime

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmroute/wasmroute/abi"
)

// CORS, the Fetch standard's cross-origin protocol, answered for a route
// from the cors block of its route.json or, when it has none, of its
// project's wasmroute.json:
//
//	"cors": {"origins": ["https://app.example"], "methods": ["GET", "PUT"],
//	         "headers": ["content-type", "x-token"], "exposeHeaders": ["x-total"],
//	         "credentials": true, "maxAge": "10m"}
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
// answered by the runtime, never the guest: 204 with the allow headers when
// the origin, the method and every requested header are allowed, and
// without them (a plain OPTIONS answer, which the browser refuses) when
// one is not. Every other response of the route gets
// Access-Control-Allow-Origin (and -Credentials, -Expose-Headers) when its
// origin is allowed, as its head is sent: the guest's own, and the
// runtime's errors (405, 413, 500, 503, 504), whose status the page can
// then read. A guest that set Access-Control-Allow-Origin itself answers
// CORS alone for that response.
//
// See https://fetch.spec.whatwg.org/#http-cors-protocol.

// Bounds of a cors block, which a tenant writes, and of a preflight, which
// anyone sends.
const (
	maxCORSList           = 128            // entries in each of a cors block's lists
	maxCORSEntry          = 512            // bytes in one entry
	maxCORSAge            = 24 * time.Hour // Firefox's cap; Chromium's is 2h
	maxCORSRequestHeaders = 128            // names in a preflight's Access-Control-Request-Headers
)

// corsConfig is the cors block of a route.json or wasmroute.json. A
// route.json's replaces its project's whole; one with no origins turns
// CORS off for the route.
type corsConfig struct {
	// Origins are the origins allowed, each scheme://host[:port] and
	// compared exactly with the request's Origin, or "*" alone: every
	// origin, without credentials.
	Origins []string `json:"origins"`

	// Methods are the methods a preflight may ask for, among those the
	// route serves, beside GET, HEAD and POST (CORS-safelisted: a page
	// sends them without asking); none listed: all it serves. Case
	// matters: "PATCH".
	Methods []string `json:"methods"`

	// Headers are the request headers a preflight may ask for, in any
	// case; "*" is any but Authorization, without credentials.
	Headers []string `json:"headers"`

	// ExposeHeaders are the response headers, beyond the CORS-safelisted
	// ones, that the page may read; "*" is all, without credentials.
	ExposeHeaders []string `json:"exposeHeaders"`

	// Credentials lets the page send cookies and read the answer.
	Credentials bool `json:"credentials"`

	// MaxAge is how long a browser may keep a preflight's answer, at most
	// 24h, in whole seconds; not set: the browser's default (5s).
	MaxAge *duration `json:"maxAge"`

	policy *corsPolicy // compile's, without a route's methods; nil: no origin
}

// corsPolicy is a cors block ready to answer requests, one per route.
// Its header values are shared slices: they are put in a response's
// header just before its head is written, and nothing modifies them.
type corsPolicy struct {
	anyOrigin   bool
	origins     map[string][]string // serialized origin -> its Access-Control-Allow-Origin
	methods     methodSet           // allowed, among abi.Methods
	allMethods  bool                // none listed: every one the route serves
	headers     map[string]bool     // lowercase names
	anyHeader   bool
	credentials bool

	// Header values.
	allowMethods  []string
	allowHeaders  []string // nil: none
	expose        []string // nil: none
	maxAge        []string // nil: not sent
	allow         []string // the route's Allow, for every OPTIONS answer
	preflightVary []string
}

var (
	corsStar = []string{"*"}
	corsTrue = []string{"true"}

	corsVaryOrigin = []string{"Origin"}

	// corsSafelisted are the methods a page may send without a preflight,
	// hence need not be listed.
	corsSafelisted = methodSet{std: 1<<methodIndex["GET"] | 1<<methodIndex["HEAD"] | 1<<methodIndex["POST"]}
)

// compile checks c (nil: no block) and keeps what it compiles to. Its
// error names the key at fault; the caller adds the file.
func (c *corsConfig) compile() error {
	if c == nil {
		return nil
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for key, list := range map[string][]string{"origins": c.Origins, "methods": c.Methods, "headers": c.Headers, "exposeHeaders": c.ExposeHeaders} {
		if len(list) > maxCORSList {
			bad("%s: %d entries, more than %d", key, len(list), maxCORSList)
		}
		for _, v := range list {
			if len(v) > maxCORSEntry {
				bad("%s: an entry of %d bytes, more than %d", key, len(v), maxCORSEntry)
			}
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return errors.New(strings.Join(errs, "; "))
	}

	p := &corsPolicy{origins: map[string][]string{}, credentials: c.Credentials, allMethods: len(c.Methods) == 0, headers: map[string]bool{}}
	for _, o := range c.Origins {
		if o == "*" {
			p.anyOrigin = true
			continue
		}
		s, err := parseOrigin(o)
		if err != nil {
			bad("origins: %q: %v", o, err)
			continue
		}
		p.origins[s] = []string{s}
	}
	switch {
	case p.anyOrigin && len(c.Origins) > 1:
		bad(`origins: "*" allows every origin: list it alone`)
	case p.anyOrigin && c.Credentials:
		bad(`origins "*" with credentials: a browser refuses a credentialed answer that allows every origin: list the origins`)
	}
	for _, m := range c.Methods {
		i, ok := methodIndex[m]
		if !ok {
			bad("methods: %q is not one of %s (case matters)", m, strings.Join(abi.Methods[:], ", "))
			continue
		}
		p.methods.std |= 1 << i
	}
	var allowHeaders, expose []string
	for _, h := range c.Headers {
		switch {
		case h == "*" && c.Credentials:
			bad(`headers: "*" with credentials: a browser reads it as a header named "*": list the headers`)
		case h == "*":
			p.anyHeader = true
		case !abi.ValidHeaderName(h):
			bad("headers: %q is not a header name", h)
		default:
			h = strings.ToLower(h)
			if !p.headers[h] {
				p.headers[h] = true
				allowHeaders = append(allowHeaders, h)
			}
		}
	}
	for _, h := range c.ExposeHeaders {
		switch {
		case h == "*" && c.Credentials:
			bad(`exposeHeaders: "*" with credentials: a browser reads it as a header named "*": list the headers`)
		case h != "*" && !abi.ValidHeaderName(h):
			bad("exposeHeaders: %q is not a header name", h)
		case !slices.Contains(expose, h):
			expose = append(expose, h)
		}
	}
	if c.MaxAge != nil {
		age := time.Duration(*c.MaxAge)
		if age < 0 || age > maxCORSAge {
			bad("maxAge %v is outside 0s..%v (browsers keep a preflight at most 24h, Chromium 2h)", age, maxCORSAge)
		}
		p.maxAge = []string{strconv.FormatInt(int64(age/time.Second), 10)}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	if p.anyHeader {
		allowHeaders = append([]string{"*"}, allowHeaders...)
	}
	if len(allowHeaders) > 0 {
		p.allowHeaders = []string{strings.Join(allowHeaders, ", ")}
	}
	if len(expose) > 0 {
		p.expose = []string{strings.Join(expose, ", ")}
	}
	p.preflightVary = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
	if p.anyOrigin {
		p.preflightVary = []string{"Access-Control-Request-Method, Access-Control-Request-Headers"}
	}
	if p.anyOrigin || len(p.origins) > 0 {
		c.policy = p
	}
	return nil
}

// parseOrigin returns s, an origin of a config file, serialized as a
// browser sends it in Origin: lowercase, without the scheme's default port.
func parseOrigin(s string) (string, error) {
	switch {
	case s == "null":
		return "", errors.New(`"null" is the origin of sandboxed and local documents, which any page can create: list real origins`)
	case strings.Contains(s, "*"):
		return "", errors.New(`origins are compared exactly, without wildcards: list each one (or "*" alone for all)`)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" {
		return "", errors.New("want scheme://host[:port], such as https://app.example")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	name := host
	if strings.Contains(host, ":") {
		name = "[" + host + "]"
	}
	switch {
	case port != "" && (len(port) > 5 || mustAtoi(port) < 1 || mustAtoi(port) > 65535):
		return "", fmt.Errorf("port %s is outside 1..65535", port)
	case u.Scheme == "http" && port == "80", u.Scheme == "https" && port == "443":
		port = ""
	}
	if port != "" {
		name += ":" + port
	}
	want := u.Scheme + "://" + name
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("an origin has no user, path, query or fragment: write %q", want)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':' && name[0] == '[') {
			return "", errors.New("the host must be a DNS name or an IP address in ASCII (punycode for international names), as browsers send it")
		}
	}
	return want, nil
}

// mustAtoi is strconv.Atoi's value, or -1.
func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// forRoute returns the policy of c (nil: none) for a route serving the
// methods in served, or nil when c allows no origin.
func (c *corsConfig) forRoute(served methodSet) *corsPolicy {
	if c == nil || c.policy == nil {
		return nil
	}
	p := *c.policy
	served.std |= 1 << methodIndex["OPTIONS"]
	if served.has(methodGET) {
		served.std |= 1 << methodIndex["HEAD"]
	}
	if p.allMethods {
		p.methods = methodSet{std: served.std, extra: served.extra}
	} else {
		p.methods = methodSet{std: (p.methods.std | corsSafelisted.std) & served.std}
	}
	p.allowMethods = []string{p.methods.String()}
	p.allow = []string{served.allow()}
	return &p
}

// handle answers r if it is a preflight, and then returns nil. Otherwise
// it returns the writer through which r's response gets its CORS headers,
// w itself when it gets none.
func (p *corsPolicy) handle(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	origin := p.match(r.Header["Origin"])
	if r.Method == http.MethodOptions && r.Header["Origin"] != nil && r.Header["Access-Control-Request-Method"] != nil {
		p.preflight(w, r, origin)
		return nil
	}
	if origin == nil && p.anyOrigin {
		return w // the answer would not depend on Origin
	}
	return &corsWriter{ResponseWriter: w, p: p, origin: origin}
}

// match returns the Access-Control-Allow-Origin that answers the request's
// Origin values, or nil if its origin is not allowed. A request with more
// than one Origin is not a browser's.
func (p *corsPolicy) match(origin []string) []string {
	switch {
	case len(origin) != 1:
		return nil
	case p.anyOrigin:
		return corsStar
	}
	return p.origins[origin[0]]
}

// preflight answers a preflight from origin (its Access-Control-Allow-Origin,
// or nil if not allowed).
func (p *corsPolicy) preflight(w http.ResponseWriter, r *http.Request, origin []string) {
	h := w.Header()
	h["Allow"] = p.allow
	h["Vary"] = p.preflightVary
	method := r.Header["Access-Control-Request-Method"]
	if origin != nil && len(method) == 1 && p.allowsMethod(method[0]) && p.allowsHeaders(r.Header["Access-Control-Request-Headers"]) {
		h["Access-Control-Allow-Origin"] = origin
		if p.credentials {
			h["Access-Control-Allow-Credentials"] = corsTrue
		}
		h["Access-Control-Allow-Methods"] = p.allowMethods
		if p.allowHeaders != nil {
			h["Access-Control-Allow-Headers"] = p.allowHeaders
		}
		if p.maxAge != nil {
			h["Access-Control-Max-Age"] = p.maxAge
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowsMethod compares exactly, as browsers do: they send the six
// methods they normalize in uppercase, and any other as written.
func (p *corsPolicy) allowsMethod(m string) bool {
	_, ok := p.methods.lookup(m)
	return ok
}

// allowsHeaders reports whether every name in the lists of an
// Access-Control-Request-Headers is allowed.
func (p *corsPolicy) allowsHeaders(lists []string) bool {
	n := 0
	for _, list := range lists {
		for name := range strings.SplitSeq(list, ",") {
			if n++; n > maxCORSRequestHeaders {
				return false
			}
			if name = strings.Trim(name, " \t"); name != "" && !p.allowsHeader(name) {
				return false
			}
		}
	}
	return true
}

// allowsHeader compares name in any case; "*" does not cover Authorization
// (the Fetch standard's one "non-wildcard request-header name").
func (p *corsPolicy) allowsHeader(name string) bool {
	if p.headers[name] { // browsers send lowercase names
		return true
	}
	lower := strings.ToLower(name)
	return p.headers[lower] || p.anyHeader && lower != "authorization"
}

// addTo adds the CORS headers of a response to origin (its
// Access-Control-Allow-Origin, or nil if not allowed) to h, unless the
// guest set Access-Control-Allow-Origin itself.
func (p *corsPolicy) addTo(h http.Header, origin []string) {
	if !p.anyOrigin {
		addVaryOrigin(h)
	}
	if origin == nil || h["Access-Control-Allow-Origin"] != nil {
		return
	}
	h["Access-Control-Allow-Origin"] = origin
	if p.credentials {
		h["Access-Control-Allow-Credentials"] = corsTrue
	}
	if p.expose != nil {
		h["Access-Control-Expose-Headers"] = p.expose
	}
}

// addVaryOrigin adds Origin to h's Vary, unless it names it already (or
// "*").
func addVaryOrigin(h http.Header) {
	if varies(h["Vary"], "Origin") || varies(h["Vary"], "*") {
		return
	}
	if h["Vary"] == nil {
		h["Vary"] = corsVaryOrigin
		return
	}
	h["Vary"] = append(h["Vary"], "Origin")
}

// corsWriter adds a response's CORS headers as its head is written,
// whoever writes it: the guest, or the runtime answering an error.
type corsWriter struct {
	http.ResponseWriter
	p      *corsPolicy
	origin []string // Access-Control-Allow-Origin; nil: not allowed
	added  bool
}

func (w *corsWriter) WriteHeader(code int) {
	if !w.added {
		w.added = true
		w.p.addTo(w.ResponseWriter.Header(), w.origin)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *corsWriter) Write(b []byte) (int, error) {
	if !w.added {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// FlushError flushes as http.ResponseController does, the head first.
func (w *corsWriter) FlushError() error {
	if !w.added {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *corsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
