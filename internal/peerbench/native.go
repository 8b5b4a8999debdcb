package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// fibN is a variable so that the compiler cannot fold fib(fibN).
var fibN = 25

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// serveNative serves the routes of testdata/app, and examples/demo's
// /api/hello, written in Go with net/http, on addr until killed.
func serveNative(addr string) int {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/item/{id}", func(w http.ResponseWriter, r *http.Request) {
		// Pointers, so that a missing value is null, as in JavaScript.
		var item struct {
			ID string  `json:"id"`
			Q  *string `json:"q"`
			UA *string `json:"ua"`
		}
		item.ID = r.PathValue("id")
		if q := r.URL.Query(); q.Has("q") {
			v := q.Get("q")
			item.Q = &v
		}
		if ua := r.Header.Values("User-Agent"); len(ua) > 0 {
			v := strings.Join(ua, ", ")
			item.UA = &v
		}
		writeJSON(w, item)
	})
	mux.HandleFunc("GET /api/hi", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, "hi")
	})
	mux.HandleFunc("GET /api/cpu", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, strconv.Itoa(fib(fibN)))
	})
	mux.HandleFunc("GET /api/hello", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"message": "hello"})
	})
	err := http.ListenAndServe(addr, mux)
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// writeJSON writes v as json.Marshal encodes it: no newline after it, as
// Response.json.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(s))
}
