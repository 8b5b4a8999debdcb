// Package route is the Go SDK for wasmroute route handlers: WebAssembly
// modules laid out like Next.js App Router route handlers, where
// app/blog/[slug]/route.wasm answers /blog/hello.
//
// A route is a wasip1 reactor that exports one function per HTTP method it
// serves. Each calls Serve with a Handler, which reads the Request and writes
// the Response through the wasmroute_v1 host functions (package abi), and
// may call other services through the host (Fetch), keep data in the
// project's key-value store (package route/kv) and drop the host's cached
// answers of a path (RevalidatePath). The package is lean: it
// does not import net/http, which alone makes a module about 5.6 MB and
// each instance about 9 MB of memory.
//
// # A route
//
// app/blog/[slug]/route.go:
//
//	//go:build wasip1
//
//	package main
//
//	import "github.com/wasmroute/wasmroute/guest-sdk/route"
//
//	//go:wasmexport GET
//	func get() { route.Serve(show) }
//
//	//go:wasmexport POST
//	func post() { route.Serve(update) }
//
//	func show(w *route.Response, r *route.Request) {
//		switch slug := r.Param("slug"); slug {
//		case "draft":
//			w.NotFound()
//		case "latest":
//			w.Redirect("/blog/hello")
//		default:
//			w.JSON(200, map[string]string{"slug": slug, "q": r.Query().Get("q")})
//		}
//	}
//
//	func update(w *route.Response, r *route.Request) {
//		var post struct{ Title string }
//		if err := r.DecodeJSON(&post); err != nil {
//			w.Text(400, err.Error())
//			return
//		}
//		w.SetCookie(route.Cookie{Name: "last", Value: post.Title, Path: "/", HttpOnly: true})
//		w.JSON(201, post)
//	}
//
//	func main() {}
//
// The runtime answers the methods a module does not export (405 with Allow),
// HEAD from GET, and OPTIONS. Methods beyond the seven are exported the same
// way, in uppercase (//go:wasmexport QUERY, PROPFIND, MKCOL; see
// abi.IsExtraMethod). A handler may read the request body while it writes
// and flushes its response: an echo streams both ways. The //go:build wasip1 line keeps route sources
// out of a native go build, vet or test of ./..., which would otherwise fail
// for the whole module on the bracketed folder name.
//
// # Params and paths
//
// Param and ParamValues give a param as the client sent it, one path segment
// per value, percent-decoded once and not checked (as Next.js does, except
// that Next.js answers 400 to a segment that does not decode to UTF-8):
//
//	request to app/files/[...path]   ParamValues("path")      ParamPath("path")
//	/files/docs/a.md                 ["docs", "a.md"]         "docs/a.md"
//	/files/caf%C3%A9                 ["café"]                 "café"
//	/files/%2e%2e/%2E%2E/etc/passwd  ["..", "..", "etc", …]   error: a dot segment
//	/files/..%2F..%2Fetc             ["../../etc"]            error: holds a slash or backslash
//	/files/a%5Cb                     ["a\\b"]                 error: holds a slash or backslash
//	/files/a%00.md                   ["a\x00.md"]             error: holds NUL
//	/files/%ff                       ["\xff"]                 error: not valid UTF-8
//	/files/a%252Fb                   ["a%2Fb"]                "a%2Fb" (decoded once)
//	/files/a/../b, /files/a//b       308 to /files/b, /files/a/b: never reach the guest
//
// An [x] param is one such value; an optional [[...x]] that matched nothing
// has none (ParamPath gives "."). A value may hold '/', so Param's "a/b" may
// be one segment or two: never build a file path, a storage key or a URL
// from Param or ParamValues. ParamPath returns a relative path that
// filepath.Join(root, p) keeps under root, or an error wrapping
// ErrUnsafePath:
//
//	p, err := r.ParamPath("path")
//	if err != nil {
//		w.NotFound()
//		return
//	}
//	data, err := fs.ReadFile(site, p) // site: an fs.FS, e.g. from embed
//
// # Building
//
// Build by file list (the go command refuses package paths with '[' or '('):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o 'app/blog/[slug]/route.wasm' './app/blog/[slug]/route.go'
//
// or let wasmroute build and serve the whole tree: wasmroute serve DIR.
//
// # Testing natively
//
// Off wasip1 the host functions are answered by an in-memory stand-in, and
// package routetest drives it like httptest drives an http.Handler. Keep the
// handler in an ordinary package (the bracketed folder cannot hold a native
// file), call it from route.go, and test it with plain go test:
//
//	req := routetest.NewRequest("GET", "/blog/hello", nil)
//	req.Params = []routetest.Param{{Name: "slug", Values: []string{"hello"}}}
//	res := routetest.Run(blog.Show, req)
//	// res.Status, res.Header, res.Body, res.Flushes
//
// A handler's outbound requests go to routetest.Request.Fetch (an
// http.Handler through routetest.FetchHandler, or the network through
// http.DefaultTransport.RoundTrip) and its key-value calls to
// routetest.Request.KV, an in-memory namespace; without them, fetches are
// denied and kv calls fail, as on a host with nothing configured.
//
// # Streaming
//
// Write sends bytes in order; Flush pushes what was written to the client
// before the handler returns, so server-sent events work:
//
//	w.SetHeader("Content-Type", "text/event-stream")
//	for i := range 5 {
//		fmt.Fprintf(w, "data: %d\n\n", i)
//		if w.Flush() != nil {
//			return // the client left
//		}
//		time.Sleep(time.Second)
//	}
//
// # Outbound HTTP
//
// Fetch sends a request through the host, which checks it against the
// route's allowedOutboundHosts before a byte leaves (with none configured,
// every request is denied); Get and PostJSON are short forms. The
// response's Body streams from the host as it is read:
//
//	resp, err := route.Get("https://api.example.com/v1/items")
//	if err != nil {
//		// e.g. fetch https://api.example.com/v1/items: denied: add
//		// "https://api.example.com" to allowedOutboundHosts
//		w.Text(502, err.Error())
//		return
//	}
//	defer resp.Close()
//	w.SetHeader("Content-Type", resp.Header.Get("content-type"))
//	io.Copy(w, resp.Body) // streamed through, never held whole
//
// Nothing waits until asked to: StartFetch returns at once and
// PendingFetch.Response waits, so requests started one after the other run
// at the same time. FetchAll does this for several, like Promise.all, and
// WaitAny takes whichever answers first:
//
//	resps, err := route.FetchAll(
//		&route.FetchRequest{URL: "https://api.example.com/users/1"},
//		&route.FetchRequest{URL: "https://api.example.com/users/1/orders"},
//	)
//
// The guest has one thread: goroutines do not make fetches concurrent,
// starting them before waiting does. A failure is ErrDenied, ErrLimit,
// ErrFetchFailed, ErrTooLarge or ErrInvalid (test with errors.Is), wrapped
// with the host's explanation.
//
// # Key-value store
//
// Package route/kv keeps bytes under string keys in the project's
// namespace, shared by its routes and instances, with optional expiry and
// an atomic counter:
//
//	n, err := kv.Incr("visits:"+r.Param("slug"), 1)
//	err = kv.SetJSON("last", post, kv.TTL(24*time.Hour))
//	v, err := kv.Get("greeting") // kv.ErrNotFound when absent
//
// # Middleware
//
// A project's middleware.go (beside app/, built into middleware.wasm) runs
// before routing, for the paths wasmroute.json's "middleware" matcher lists
// (every path without one). It exports one function, middleware, which
// serves every method:
//
//	//go:wasmexport middleware
//	func middleware() { route.Serve(guard) }
//
//	func guard(w *route.Response, r *route.Request) {
//		if _, ok := r.Cookie("session"); !ok {
//			w.Redirect("/login") // answered here: the route does not run
//			return
//		}
//		h := r.Headers()
//		h["x-user"] = []string{"ada"}
//		w.SetRequestHeaders(h)                 // what the route sees
//		w.SetHeader("x-frame-options", "DENY") // added to the route's response
//		w.Next()
//	}
//
// Whatever the middleware answers without Next or Rewrite is the client's
// answer (a redirect, a 401). With them, the request goes on to its route,
// and the middleware's other response headers are added to the route's. A
// middleware sees no request body; its route reads it.
//
// # Environment
//
// os.Getenv and os.Environ read the variables the operator configured for
// the route (env in wasmroute.json or route.json), and nothing else: never
// the server's own environment. That is where a route finds its secrets,
// such as an API token for Fetch; keep them out of responses and logs.
//
// # Errors
//
// Methods that change the response return an error for what the host
// refused: ErrInvalid, ErrHeadersSent, ErrBodyNotAllowed, ErrTooLarge,
// ErrClosed. A handler can ignore them, since the host validates everything,
// but a streaming handler should stop at ErrClosed. Outbound requests fail
// with the errors above.
package route
