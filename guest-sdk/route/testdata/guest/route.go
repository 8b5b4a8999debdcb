//go:build wasip1

// This guest is built by wasm_test.go: GET reports what the SDK read from
// the request, ?op=stream streams three events, ?op=crash panics, and POST
// echoes the body.
package main

import (
	"io"
	"strconv"
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() { route.Serve(inspect) }

//go:wasmexport POST
func post() { route.Serve(echo) }

func inspect(w *route.Response, r *route.Request) {
	switch r.Query().Get("op") {
	case "crash":
		panic("crash requested")
	case "stream":
		w.SetHeader("Content-Type", "text/event-stream")
		for i := range 3 {
			w.WriteString("data: " + strconv.Itoa(i) + "\n\n")
			w.Flush()
			time.Sleep(time.Millisecond)
		}
		return
	}
	cookie, _ := r.Cookie("session")
	w.SetCookie(route.Cookie{Name: "a", Value: "1"})
	w.SetCookie(route.Cookie{Name: "b", Value: "2"})
	w.JSON(201, map[string]any{
		"method":      r.Method(),
		"path":        r.Path(),
		"rawQuery":    r.RawQuery(),
		"query":       r.Query(),
		"protocol":    r.Protocol(),
		"remoteAddr":  r.RemoteAddr(),
		"headerNames": r.HeaderNames(),
		"x-multi":     r.HeaderValues("X-Multi"),
		"x-absent":    r.HeaderValues("X-Absent"),
		"x-long":      len(r.Header("x-long")),
		"paramNames":  r.ParamNames(),
		"slug":        r.Param("slug"),
		"rest":        r.ParamValues("rest"),
		"session":     cookie,
	})
}

func echo(w *route.Response, r *route.Request) {
	w.SetHeader("Content-Type", r.Header("Content-Type"))
	if _, err := io.Copy(w, r.Body()); err != nil {
		panic(err)
	}
}

func main() {}
