//go:build wasip1

// parallel fetches every ?url= (repeatable) at the same time with
// route.FetchAll, waits for all of them, and answers JSON
// {"statuses":[...],"bodies":[...]} in the order of the URLs, or 502 with
// the first error's message as text/plain.
package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() { route.Serve(parallel) }

func parallel(w *route.Response, r *route.Request) {
	urls := r.Query()["url"]
	reqs := make([]*route.FetchRequest, len(urls))
	for i, u := range urls {
		reqs[i] = &route.FetchRequest{URL: u}
	}
	resps, err := route.FetchAll(reqs...)
	if err != nil {
		w.Text(502, err.Error())
		return
	}
	statuses, bodies := []any{}, []any{}
	for i, resp := range resps {
		b, err := resp.ReadAll()
		if err != nil {
			for _, rest := range resps[i+1:] {
				rest.Close()
			}
			w.Text(502, err.Error())
			return
		}
		statuses = append(statuses, resp.Status)
		bodies = append(bodies, string(b))
	}
	w.JSON(200, map[string]any{"statuses": statuses, "bodies": bodies})
}

func main() {}
