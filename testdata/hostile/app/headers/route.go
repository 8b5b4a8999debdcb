//go:build wasip1

// headers attempts to exhaust the host's memory through response headers:
// GET adds 100,000 header values, or ?n= of them (?mode=add: one name;
// names: one name each with set; bytes: 1 KiB values), and answers, without
// adding a header, how many the host took and the first error it returned.
package main

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		mode := r.Query().Get("mode")
		n, err := strconv.Atoi(r.Query().Get("n"))
		if err != nil {
			n = 100_000
		}
		big := strings.Repeat("v", 1024)
		added, failed := 0, 0
		var first error
		for i := range n {
			var err error
			switch mode {
			case "names":
				err = w.SetHeader("X-Flood-"+strconv.Itoa(i), "1")
			case "bytes":
				err = w.AddHeader("X-Flood", big)
			default:
				err = w.AddHeader("X-Flood", strconv.Itoa(i))
			}
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
				continue
			}
			added++
		}
		res := map[string]any{"added": added, "failed": failed, "tooLarge": errors.Is(first, route.ErrTooLarge)}
		if first != nil {
			res["err"] = first.Error()
		}
		b, _ := json.Marshal(res)
		w.Write(b) // no Content-Type: there is no room left for it
	})
}

func main() {}
