package route

import (
	"errors"
	"slices"
	"strings"
)

// Next makes the middleware's answer "go on to the route", as Next.js's
// NextResponse.next().
func (w *Response) Next() error { return w.SetHeader("x-middleware-next", "1") }

// Rewrite makes the request go on to the route of path, a path of the
// project with an optional query ("/blog/hello?from=old"), as Next.js's
// NextResponse.rewrite(): the route sees path, the client keeps its URL.
// The host refuses (500) a URL of another host: a rewrite is not a proxy.
func (w *Response) Rewrite(path string) error {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return &argError{"rewrite path", path}
	}
	return w.SetHeader("x-middleware-rewrite", path)
}

// SetRequestHeaders replaces the request headers the route sees with h
// (names in any case): a header h does not name is removed. Start from
// Request.Headers to change one and keep the others. It implies Next (and
// keeps a Rewrite: the request goes on to the rewritten path).
func (w *Response) SetRequestHeaders(h map[string][]string) error {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, strings.ToLower(name))
	}
	slices.Sort(names)
	var errs []error
	for name, values := range h {
		key := "x-middleware-request-" + strings.ToLower(name)
		errs = append(errs, w.DelHeader(key))
		for _, v := range values {
			errs = append(errs, w.AddHeader(key, v))
		}
	}
	errs = append(errs, w.SetHeader("x-middleware-override-headers", strings.Join(names, ",")))
	errs = append(errs, w.Next())
	return errors.Join(errs...)
}

// Headers returns a new map of the request's headers, by lowercase name.
func (r *Request) Headers() map[string][]string {
	h := map[string][]string{}
	for _, name := range r.HeaderNames() {
		h[name] = r.HeaderValues(name)
	}
	return h
}
