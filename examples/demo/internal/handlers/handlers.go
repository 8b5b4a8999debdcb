// Package handlers holds the logic of the demo routes that have unit tests.
//
// A route folder such as app/blog/[slug] cannot hold a file that builds
// natively: the go command refuses its import path, and go build, vet and
// test of ./... would then fail for the whole module. So each of these
// routes keeps a route.go with only its //go:wasmexport shims, built for
// wasip1, and calls a Handler from here, which plain go test exercises
// through package routetest.
package handlers

import (
	"io"
	"strconv"
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

// Slug answers app/blog/[slug]: {"slug":"<the segment>"}.
func Slug(w *route.Response, r *route.Request) {
	w.JSON(200, map[string]string{"slug": r.Param("slug")})
}

// Query answers app/api/query with the query's name and every tag:
// /api/query?name=wasm&tag=a&tag=b gives {"name":"wasm","tag":["a","b"]}.
func Query(w *route.Response, r *route.Request) {
	q := r.Query()
	tags := q["tag"]
	if tags == nil {
		tags = []string{}
	}
	w.JSON(200, struct {
		Name string   `json:"name"`
		Tag  []string `json:"tag"`
	}{q.Get("name"), tags})
}

// Cookies answers app/api/cookies: it reports the session cookie the client
// sent ({"session":"abc"}, or null) and sets two cookies, a=1 and b=2, each
// in its own Set-Cookie header.
func Cookies(w *route.Response, r *route.Request) {
	var session *string
	if v, ok := r.Cookie("session"); ok {
		session = &v
	}
	w.SetCookie(route.Cookie{Name: "a", Value: "1"})
	w.SetCookie(route.Cookie{Name: "b", Value: "2"})
	w.JSON(200, map[string]*string{"session": session})
}

// Echo answers POST app/api/echo with the request body and its
// Content-Type. The body streams through in io.Copy's chunks: the guest
// never holds all of it. Past the route's body limit the read fails with
// route.ErrTooLarge and the copy stops: the guest never sees more than the
// limit.
func Echo(w *route.Response, r *route.Request) {
	if ct := r.Header("Content-Type"); ct != "" {
		w.SetHeader("Content-Type", ct)
	}
	io.Copy(w, r.Body())
}

// Stream returns the handler of app/api/stream: five server-sent events,
// "data: 0" to "data: 4", each flushed to the client as soon as it is
// written, with a pause of every between two events. It stops early when
// the client leaves.
func Stream(every time.Duration) route.Handler {
	return func(w *route.Response, r *route.Request) {
		w.SetHeader("Content-Type", "text/event-stream")
		w.SetHeader("Cache-Control", "no-cache")
		for i := range 5 {
			if i > 0 {
				time.Sleep(every)
			}
			if _, err := w.WriteString("data: " + strconv.Itoa(i) + "\n\n"); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}
