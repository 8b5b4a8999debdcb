//go:build wasip1

// cookie sets the cookie theme to the query's theme and deletes session,
// then reads both back in the same request: with Next.js's cookies()
// semantics it answers "theme=<the new value> session=false".
package main

import (
	"strconv"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		before, _ := r.Cookie("theme")
		if err := w.SetCookie(route.Cookie{Name: "theme", Value: r.Query().Get("theme"), Path: "/"}); err != nil {
			w.Text(500, err.Error())
			return
		}
		if err := w.DeleteCookie("session"); err != nil {
			w.Text(500, err.Error())
			return
		}
		theme, _ := r.Cookie("theme")
		_, session := r.Cookie("session")
		w.Text(200, "before="+before+" theme="+theme+" session="+strconv.FormatBool(session))
	})
}

func main() {}
