package route

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wasmroute/wasmroute/abi"
)

// Request is the request being served. Each accessor asks the host the first
// time it is called and remembers the answer, so nothing is copied into the
// guest that the handler does not use.
//
// A Request is valid only until its Handler returns and is not safe for
// concurrent use. Slices and maps it returns are shared between calls: do
// not modify them.
type Request struct {
	buf []byte // getter buffer, grown as values need

	have                                      fields
	method, path, rawQuery, proto, remoteAddr string
	query                                     url.Values
	headerNames, paramNames                   []string
	headers, params                           map[string][]string
	cookies                                   []Cookie
	body                                      *body
}

// fields records which lazily fetched values a Request has.
type fields uint16

const (
	haveMethod fields = 1 << iota
	havePath
	haveRawQuery
	haveProto
	haveRemoteAddr
	haveQuery
	haveHeaderNames
	haveParamNames
	haveCookies
)

// fetch calls get with the request's buffer until the value fits, growing the
// buffer to the length get reports, and returns the value. The result aliases
// the buffer and is valid until the next fetch.
func (r *Request) fetch(get func(buf []byte) uint32) []byte {
	if cap(r.buf) == 0 {
		r.buf = make([]byte, 512) // most values fit: one call
	}
	for {
		n := get(r.buf[:cap(r.buf)])
		if int(n) <= cap(r.buf) {
			return r.buf[:n]
		}
		r.buf = make([]byte, max(int(n), 2*cap(r.buf)))
	}
}

// str returns the string field p, fetching it with get the first time.
func (r *Request) str(p *string, bit fields, get func([]byte) uint32) string {
	if r.have&bit == 0 {
		*p = string(r.fetch(get))
		r.have |= bit
	}
	return *p
}

// fetchList fetches a list value and decodes its items.
func (r *Request) fetchList(get func(buf []byte) uint32) []string {
	list := r.fetch(get)
	var items []string
	for {
		item, rest, ok := abi.NextItem(list)
		if !ok {
			return slices.Clip(items)
		}
		items = append(items, string(item))
		list = rest
	}
}

// Method returns the request method, e.g. "GET".
func (r *Request) Method() string { return r.str(&r.method, haveMethod, hostMethod) }

// Path returns the request path as the client sent it, still escaped, e.g.
// "/blog/hello%20world". Route params (Param) are already decoded.
func (r *Request) Path() string { return r.str(&r.path, havePath, hostPath) }

// RawQuery returns the query without '?', e.g. "name=wasm&tag=a", or "".
func (r *Request) RawQuery() string { return r.str(&r.rawQuery, haveRawQuery, hostQuery) }

// Query returns the parsed query, like searchParams in Next.js. Malformed
// pairs are skipped.
func (r *Request) Query() url.Values {
	if r.have&haveQuery == 0 {
		r.query, _ = url.ParseQuery(r.RawQuery())
		r.have |= haveQuery
	}
	return r.query
}

// Protocol returns the request protocol, e.g. "HTTP/1.1" or "HTTP/2.0".
func (r *Request) Protocol() string { return r.str(&r.proto, haveProto, hostProtocol) }

// RemoteAddr returns the client's address as "ip:port".
func (r *Request) RemoteAddr() string {
	return r.str(&r.remoteAddr, haveRemoteAddr, hostRemoteAddr)
}

// Header returns the first value of the request header name, matched
// case-insensitively, or "" when it is absent.
func (r *Request) Header(name string) string {
	if v := r.HeaderValues(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// HeaderValues returns every value of the request header name, matched
// case-insensitively, in the order received; nil when it is absent.
func (r *Request) HeaderValues(name string) []string {
	if v, ok := r.headers[name]; ok {
		return v
	}
	v := r.fetchList(func(buf []byte) uint32 { return hostHeaderValues(name, buf) })
	if r.headers == nil {
		r.headers = make(map[string][]string)
	}
	r.headers[name] = v
	return v
}

// HeaderNames returns the names of the request headers, lowercase, sorted,
// each once. "host" is among them.
func (r *Request) HeaderNames() []string {
	if r.have&haveHeaderNames == 0 {
		r.headerNames = r.fetchList(hostHeaderNames)
		r.have |= haveHeaderNames
	}
	return r.headerNames
}

// Param returns the route param name, decoded: "hello" for /blog/hello
// served by app/blog/[slug]. For a catch-all it returns the segments joined
// by "/" ("a/b/c" for /docs/a/b/c served by app/docs/[...path]). It returns
// "" for a name the route does not have.
//
// The value is exactly what the client sent, percent-decoded (see
// ParamValues): it may hold "..", "/" (from %2F), NUL (from %00) or bytes
// that are not UTF-8 (from %FF), and a catch-all's "a%2Fb" and "a/b" both
// give "a/b". Never use it as a file path or a key that must not cross a
// "/": use ParamPath.
func (r *Request) Param(name string) string {
	v := r.ParamValues(name)
	if len(v) == 1 {
		return v[0]
	}
	return strings.Join(v, "/")
}

// ParamValues returns the values of the route param name: one for [x], one
// per segment for [...x] and [[...x]]. An optional catch-all that matched
// nothing gives an empty, non-nil slice, so it encodes as [] in JSON; a name
// the route does not have gives nil.
//
// Each value is one path segment as the client sent it, percent-decoded
// once and not checked further, as Next.js gives params: "/docs/a%2Fb/c"
// gives ["a/b", "c"], "/docs/%2e%2e" gives [".."], "%00" a NUL and "%FF" the
// byte 0xFF, which is not UTF-8 (Next.js answers 400 to that one; wasmroute
// passes the bytes on). The host never gives an empty segment, nor
// a "." or ".." written as such (it redirects such paths to their clean
// form), but their escaped forms (%2e, %2E%2E) arrive decoded. To use a
// param as a path, call ParamPath, which refuses all of these.
func (r *Request) ParamValues(name string) []string {
	if v, ok := r.params[name]; ok {
		return v
	}
	v := r.fetchList(func(buf []byte) uint32 { return hostParamValues(name, buf) })
	if v == nil && slices.Contains(r.ParamNames(), name) {
		v = []string{}
	}
	if r.params == nil {
		r.params = make(map[string][]string)
	}
	r.params[name] = v
	return v
}

// ErrUnsafePath is the error ParamPath wraps when a param cannot be used as
// a path. A handler would usually answer 404 (or 400) to it.
var ErrUnsafePath = errors.New("route: param is not a safe path")

// ParamPath returns the route param name as a relative, slash-separated path
// that stays inside any folder it is joined to: the segments of a [...x] or
// [[...x]] param joined by "/" ("a/b/c" for /docs/a/b/c), the one segment of
// an [x] param, or "." for an optional catch-all that matched nothing. The
// result satisfies fs.ValidPath and, on wasip1 and Unix, filepath.IsLocal:
// filepath.Join(root, p), os.Root.Open(p) and fsys.Open(p) stay under root.
//
// It refuses, with an error that wraps ErrUnsafePath and names the segment,
// any segment that would let the path leave the folder or name something
// other than what its segments say: "." or ".." (sent as %2e or %2E%2E), an
// empty segment, a segment holding '/' or '\' (sent as %2F or %5C), NUL
// (%00), or bytes that are not valid UTF-8 (such as %FF). It also fails for
// a name the route does not have. Other bytes pass as sent: spaces, other
// control characters, ':', a leading '-' or '~'; check them yourself if
// what you pass the path to cares.
func (r *Request) ParamPath(name string) (string, error) {
	segs := r.ParamValues(name)
	if segs == nil {
		return "", fmt.Errorf("%w: the route has no param %q", ErrUnsafePath, name)
	}
	if len(segs) == 0 {
		return ".", nil
	}
	for i, seg := range segs {
		if why := unsafeSegment(seg); why != "" {
			return "", fmt.Errorf("%w: param %q, segment %d %q: %s", ErrUnsafePath, name, i+1, seg, why)
		}
	}
	if len(segs) == 1 {
		return segs[0], nil
	}
	return strings.Join(segs, "/"), nil
}

// unsafeSegment says why seg cannot be a path element, or "".
func unsafeSegment(seg string) string {
	switch {
	case seg == "":
		return "empty"
	case seg == "." || seg == "..":
		return "a dot segment"
	case strings.ContainsAny(seg, "/\\"):
		return "holds a slash or backslash"
	case strings.IndexByte(seg, 0) >= 0:
		return "holds NUL"
	case !utf8.ValidString(seg):
		return "not valid UTF-8"
	}
	return ""
}

// ParamNames returns the names of the route's params in path order, e.g.
// ["slug"] for app/blog/[slug].
func (r *Request) ParamNames() []string {
	if r.have&haveParamNames == 0 {
		r.paramNames = r.fetchList(hostParamNames)
		r.have |= haveParamNames
	}
	return r.paramNames
}

// Cookie returns the value of the request cookie name and whether it was
// sent. Like Next.js, the value is percent-decoded (SetCookie encodes), and
// a cookie the response set or deleted earlier in the request
// (Response.SetCookie, DeleteCookie) reads as set or gone, as with
// cookies() in Next.js.
func (r *Request) Cookie(name string) (string, bool) {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// Cookies returns the cookies of the Cookie header(s) in the order sent, with
// only Name and Value set, changed by the response's SetCookie and
// DeleteCookie calls so far (a cookie set anew comes last). Pairs whose name
// is not a token are skipped.
func (r *Request) Cookies() []Cookie {
	if r.have&haveCookies == 0 {
		r.cookies = parseCookies(r.HeaderValues("cookie"))
		r.have |= haveCookies
	}
	return r.cookies
}

// Body returns the request body as a stream. Each Read asks the host for at
// most len(p) bytes, written straight into p: the body is never held in the
// guest as a whole unless the handler collects it (ReadAll, DecodeJSON). A
// read past the route's body limit fails with ErrTooLarge, and one after
// the client left with ErrClosed. Every call returns the same reader.
func (r *Request) Body() io.Reader {
	if r.body == nil {
		r.body = &body{}
	}
	return r.body
}

// ReadAll reads the rest of the body and returns it.
func (r *Request) ReadAll() ([]byte, error) { return io.ReadAll(r.Body()) }

// DecodeJSON decodes the body, which must hold exactly one JSON value, into
// v, as json.Unmarshal would. It reads the body as a stream.
func (r *Request) DecodeJSON(v any) error { return decodeJSON(r.Body(), v, "request body") }

// body reads the request body through the host.
type body struct {
	err error // io.EOF once done, or the error that ended it
}

// maxRead keeps a read's length inside the int32 result of body_read.
const maxRead = 1 << 30

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := hostBodyRead(p[:min(len(p), maxRead)])
	switch {
	case n > 0:
		return int(n), nil
	case n == 0:
		b.err = io.EOF
	default:
		b.err = codeError(n)
	}
	return 0, b.err
}
