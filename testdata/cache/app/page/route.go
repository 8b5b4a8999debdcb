//go:build wasip1

// page answers what the response cache tests ask for: see ../../README.md.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/kv"
)

//go:wasmexport GET
func get() { route.Serve(page) }

//go:wasmexport POST
func post() { route.Serve(revalidate) }

func page(w *route.Response, r *route.Request) {
	q := r.Query()
	if ms, err := strconv.Atoi(q.Get("sleep")); err == nil {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	var n int64
	if q.Get("nokv") == "" {
		var err error
		if n, err = kv.Incr("runs:"+r.Path()+"?"+r.RawQuery(), 1); err != nil {
			w.Text(502, err.Error())
			return
		}
	}
	w.SetHeader("Content-Type", "text/plain")
	if q.Get("cookie") != "" {
		w.SetHeader("Set-Cookie", "s=1")
	}
	if v := q.Get("cc"); v != "" {
		w.SetHeader("Cache-Control", v)
	}
	if v := q.Get("vary"); v != "" {
		w.SetHeader("Vary", v)
	}
	if s, err := strconv.Atoi(q.Get("status")); err == nil {
		w.Status(s)
	}
	if after, err := strconv.Atoi(q.Get("failafter")); err == nil && n > int64(after) {
		w.Status(500)
	}
	fmt.Fprintf(w, "run=%d path=%s query=%s lang=%s auth=%s cookie=%s\n", n, r.Path(), r.RawQuery(),
		r.Header("Accept-Language"), r.Header("Authorization"), r.Header("Cookie"))
	size, _ := strconv.Atoi(q.Get("size"))
	chunk := strings.Repeat("x", 4<<10)
	for size > 0 {
		k := min(size, len(chunk))
		if _, err := w.WriteString(chunk[:k]); err != nil {
			return
		}
		w.Flush()
		size -= k
	}
}

func revalidate(w *route.Response, r *route.Request) {
	if err := route.RevalidatePath(r.Query().Get("revalidate")); err != nil {
		w.Text(400, err.Error())
		return
	}
	w.Text(200, "ok")
}

func main() {}
