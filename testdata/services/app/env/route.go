//go:build wasip1

// env reads the route's environment, which holds exactly the variables the
// operator configured (env in wasmroute.json or route.json): GET ?name=X
// answers os.Getenv("X") as text/plain; ?print=X writes the value of X on a
// line of its own to stdout, which the server logs (so that a test can check
// that secrets are redacted there), and answers "ok".
package main

import (
	"os"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() { route.Serve(env) }

func env(w *route.Response, r *route.Request) {
	q := r.Query()
	switch {
	case q.Has("print"):
		os.Stdout.WriteString(os.Getenv(q.Get("print")) + "\n")
		w.Text(200, "ok")
	case q.Has("name"):
		w.Text(200, os.Getenv(q.Get("name")))
	default:
		w.Text(400, "want ?name=X or ?print=X")
	}
}

func main() {}
