//go:build wasip1

// kv exposes the project's key-value namespace:
//
//	GET ?op=get&key=K                         {"value":"..."}
//	GET ?op=set&key=K&value=V[&ttl=SECONDS]   {"ok":true}
//	GET ?op=delete&key=K                      {"ok":true}
//	GET ?op=list[&prefix=P]                   {"keys":[...]}
//	GET ?op=incr&key=K[&by=N]                 {"value":N}  (by defaults to 1)
//	GET ?op=getn&key=K&n=N                    {"bytes":B}  (N gets of K, for benchmarks)
//	POST ?key=K[&ttl=SECONDS]                 sets K to the request body: {"ok":true}
//
// An error is answered as text/plain with its message and the status
// 400 (kv.ErrInvalid, or a bad query), 404 (kv.ErrNotFound), 413
// (kv.ErrTooLarge, or a request body over the route's limit), 429
// (kv.ErrLimit) or 502 (kv.ErrFailed).
package main

import (
	"errors"
	"strconv"
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/kv"
)

//go:wasmexport GET
func get() { route.Serve(op) }

//go:wasmexport POST
func post() { route.Serve(set) }

var errQuery = errors.New("bad query")

func op(w *route.Response, r *route.Request) {
	q := r.Query()
	key := q.Get("key")
	var (
		res any
		err error
	)
	switch q.Get("op") {
	case "get":
		var v string
		v, err = kv.GetString(key)
		res = map[string]any{"value": v}
	case "set":
		var opts []kv.Option
		if opts, err = ttl(q.Get("ttl")); err == nil {
			err = kv.SetString(key, q.Get("value"), opts...)
		}
		res = map[string]any{"ok": true}
	case "delete":
		err = kv.Delete(key)
		res = map[string]any{"ok": true}
	case "list":
		var keys []string
		keys, err = kv.List(q.Get("prefix"))
		res = map[string]any{"keys": keys}
	case "incr":
		by := int64(1)
		if s := q.Get("by"); s != "" {
			if by, err = strconv.ParseInt(s, 10, 64); err != nil {
				err = errors.Join(errQuery, err)
			}
		}
		if err == nil {
			var n int64
			n, err = kv.Incr(key, by)
			res = map[string]any{"value": n}
		}
	case "getn":
		n, total := 0, 0
		if n, err = strconv.Atoi(q.Get("n")); err != nil {
			err = errors.Join(errQuery, err)
		}
		for i := 0; i < n && err == nil; i++ {
			var v []byte
			v, err = kv.Get(key)
			total += len(v)
		}
		res = map[string]any{"bytes": total}
	default:
		err = errors.Join(errQuery, errors.New("op must be get, set, delete, list, incr or getn"))
	}
	answer(w, res, err)
}

func set(w *route.Response, r *route.Request) {
	opts, err := ttl(r.Query().Get("ttl"))
	var body []byte
	if err == nil {
		body, err = r.ReadAll()
	}
	if err == nil {
		err = kv.Set(r.Query().Get("key"), body, opts...)
	}
	answer(w, map[string]any{"ok": true}, err)
}

// ttl parses a number of seconds ("" for none).
func ttl(s string) ([]kv.Option, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, errors.Join(errQuery, err)
	}
	return []kv.Option{kv.TTL(time.Duration(n) * time.Second)}, nil
}

func answer(w *route.Response, res any, err error) {
	if err == nil {
		w.JSON(200, res)
		return
	}
	status := 500
	switch {
	case errors.Is(err, kv.ErrInvalid), errors.Is(err, errQuery):
		status = 400
	case errors.Is(err, kv.ErrNotFound):
		status = 404
	case errors.Is(err, kv.ErrTooLarge), errors.Is(err, route.ErrTooLarge):
		status = 413
	case errors.Is(err, kv.ErrLimit):
		status = 429
	case errors.Is(err, kv.ErrFailed):
		status = 502
	}
	w.Text(status, err.Error())
}

func main() {}
