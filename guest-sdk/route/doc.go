// Package route is the Go SDK for wasmroute route handlers: WebAssembly
// modules laid out like Next.js App Router route handlers, where
// app/blog/[slug]/route.wasm answers /blog/hello.
//
// A route is a wasip1 reactor that exports one function per HTTP method it
// serves. Each calls Serve with a Handler, which reads the Request and writes
// the Response through the wasmroute_v1 host functions (package abi). The
// package is lean: it does not import net/http, which alone makes a module
// about 5.6 MB and each instance about 9 MB of memory.
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
// HEAD from GET, and OPTIONS. The //go:build wasip1 line keeps route sources
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
// # Errors
//
// Methods that change the response return an error for what the host
// refused: ErrInvalid, ErrHeadersSent, ErrBodyNotAllowed, ErrTooLarge,
// ErrClosed. A handler can ignore them, since the host validates everything,
// but a streaming handler should stop at ErrClosed.
package route
