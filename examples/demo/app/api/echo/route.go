//go:build wasip1

// POST /api/echo answers the request body, with its Content-Type, streamed
// through in chunks. Only POST is exported, so the runtime answers GET, PUT
// and DELETE with 405 and an Allow header.
package main

import (
	"github.com/wasmroute/wasmroute/examples/demo/internal/handlers"
	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport POST
func post() { route.Serve(handlers.Echo) }

func main() {}
