//go:build wasip1

// This guest is built by wasm_test.go: GET reports what the SDK read from
// the request, ?op=stream streams three events, ?op=crash panics,
// ?op=fetch&url= streams a fetched response through, ?op=fetchall&url=&url=
// fetches several at once, ?op=kv runs every kv call, and POST echoes the
// body.
package main

import (
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/kv"
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
	case "fetch":
		proxy(w, r)
		return
	case "fetchall":
		fetchAll(w, r)
		return
	case "kv":
		kvAll(w)
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

// proxy fetches ?url= and streams the response through in small reads, or
// answers 502 with the error and whether it is ErrDenied.
func proxy(w *route.Response, r *route.Request) {
	resp, err := route.Fetch(&route.FetchRequest{
		URL:    r.Query().Get("url"),
		Header: route.Header{{Name: "X-From", Value: "guest"}},
	})
	if err != nil {
		w.Text(502, "denied="+strconv.FormatBool(errors.Is(err, route.ErrDenied))+" "+err.Error())
		return
	}
	defer resp.Close()
	w.SetHeader("Content-Type", resp.Header.Get("content-type"))
	w.Status(resp.Status)
	buf := make([]byte, 3)
	if _, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{resp.Body}, buf); err != nil {
		w.WriteString("\nerror: " + err.Error())
	}
}

// fetchAll fetches every ?url= at the same time.
func fetchAll(w *route.Response, r *route.Request) {
	var reqs []*route.FetchRequest
	for _, u := range r.Query()["url"] {
		reqs = append(reqs, &route.FetchRequest{URL: u})
	}
	resps, err := route.FetchAll(reqs...)
	if err != nil {
		w.Text(502, err.Error())
		return
	}
	var statuses, bodies []any
	for _, resp := range resps {
		b, err := resp.ReadAll()
		if err != nil {
			w.Text(502, err.Error())
			return
		}
		statuses = append(statuses, resp.Status)
		bodies = append(bodies, string(b))
	}
	w.JSON(200, map[string]any{"statuses": statuses, "bodies": bodies})
}

// kvAll runs every kv call and answers what each gave.
func kvAll(w *route.Response) {
	var out []any
	note := func(v any, err error) {
		if err != nil {
			out = append(out, "error: "+err.Error())
			return
		}
		out = append(out, v)
	}
	note(nil, kv.SetString("greeting", "hello", kv.TTL(time.Minute)))
	note(kv.GetString("greeting"))
	big := make([]byte, 3000) // past the first getter buffer
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	note(nil, kv.Set("big", big))
	v, err := kv.Get("big")
	note(len(v) == len(big) && string(v) == string(big), err)
	note(kv.Incr("count", 41))
	note(kv.Incr("count", 1))
	note(kv.List(""))
	note(nil, kv.SetJSON("json", map[string]any{"a": []int{1, 2}}))
	var j map[string][]int
	note(j, kv.GetJSON("json", &j))
	note(nil, kv.Delete("greeting"))
	_, err = kv.Get("greeting")
	note(errors.Is(err, kv.ErrNotFound), nil)
	note(kv.Incr("big", 1)) // not an integer
	_, err = kv.Incr("big", 1)
	note(errors.Is(err, kv.ErrInvalid), nil)
	w.JSON(200, out)
}

func main() {}
