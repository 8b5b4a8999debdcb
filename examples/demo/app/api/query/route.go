//go:build wasip1

// GET /api/query?name=wasm&tag=a&tag=b answers {"name":"wasm","tag":["a","b"]}.
package main

import (
	"github.com/wasmroute/wasmroute/examples/demo/internal/handlers"
	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() { route.Serve(handlers.Query) }

func main() {}
