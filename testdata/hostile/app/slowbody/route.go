//go:build wasip1

// slowbody is the victim of a slow-loris client: POST reads the whole body
// and answers its length, so a client trickling bytes holds the instance
// until the route's maxDuration stops it.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport POST
func post() {
	route.Serve(func(w *route.Response, r *route.Request) {
		b, err := r.ReadAll()
		if err != nil {
			w.Text(400, err.Error())
			return
		}
		w.JSON(200, map[string]int{"len": len(b)})
	})
}

func main() {}
