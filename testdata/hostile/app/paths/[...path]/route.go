//go:build wasip1

// paths is the victim of path traversal through a catch-all param: GET
// answers, one per line and Go-quoted so that every byte shows, what the
// guest got from ParamValues and Param, and what ParamPath made of it (the
// path joined to the root /srv/files, or its error).
package main

import (
	"fmt"
	"path/filepath"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		text := fmt.Sprintf("values %q\nparam %q\n", r.ParamValues("path"), r.Param("path"))
		if p, err := r.ParamPath("path"); err != nil {
			text += fmt.Sprintf("error %q\n", err.Error())
		} else {
			text += fmt.Sprintf("path %q\n", filepath.Join("/srv/files", p))
		}
		w.Text(200, text)
	})
}

func main() {}
