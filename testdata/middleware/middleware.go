//go:build wasip1

// The middleware of cmd/wasmroute's TestServeMiddlewareGo, with the Go SDK.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport middleware
func middleware() { route.Serve(guard) }

func guard(w *route.Response, r *route.Request) {
	switch r.Path() {
	case "/private":
		w.Text(401, "who are you?")
	case "/old":
		w.Redirect("/echo/new")
	case "/alias":
		w.Rewrite("/echo/aliased?via=go")
	case "/panic":
		panic("middleware panics")
	default:
		h := r.Headers()
		h["x-user"] = []string{"gopher"}
		w.SetRequestHeaders(h)
		w.SetHeader("x-mw", "go")
	}
}

func main() {}
