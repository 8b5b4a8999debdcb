//go:build wasip1

// GET /api/cookies answers the session cookie ({"session":"abc"}) and sets
// two cookies, a=1 and b=2: both Set-Cookie headers reach the client.
package main

import (
	"github.com/wasmroute/wasmroute/examples/demo/internal/handlers"
	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() { route.Serve(handlers.Cookies) }

func main() {}
