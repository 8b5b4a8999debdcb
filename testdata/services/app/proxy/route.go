//go:build wasip1

// proxy fetches the URL given in ?url= with ?method= (default GET) and
// ?redirect=follow|manual|error (default follow), with the header
// traceparent: ?traceparent= when set, and answers the upstream's
// status, Content-Type and body, streamed through as it arrives, with the
// request's traceparent, as the guest saw it, in X-Seen-Traceparent. A fetch
// that fails (denied, limit, failed, invalid) is answered 502 with the
// error's message as text/plain. A body that fails midway (maxFetchBody,
// a broken transfer) ends the response there and is logged to stderr.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport GET
func get() { route.Serve(proxy) }

var redirects = map[string]route.RedirectMode{
	"": route.RedirectFollow, "follow": route.RedirectFollow,
	"manual": route.RedirectManual, "error": route.RedirectError,
}

func proxy(w *route.Response, r *route.Request) {
	q := r.Query()
	mode, ok := redirects[q.Get("redirect")]
	if !ok {
		w.Text(400, "redirect must be follow, manual or error")
		return
	}
	req := &route.FetchRequest{Method: q.Get("method"), URL: q.Get("url"), Redirect: mode}
	if tp := q.Get("traceparent"); tp != "" {
		req.Header.Set("traceparent", tp) // its own: the host must keep it
	}
	// What the guest saw of the trace, for the tests.
	if tp := r.Header("traceparent"); tp != "" {
		w.SetHeader("X-Seen-Traceparent", tp)
	}
	resp, err := route.Fetch(req)
	if err != nil {
		w.Text(502, err.Error())
		return
	}
	defer resp.Close()
	if ct := resp.Header.Get("content-type"); ct != "" {
		w.SetHeader("Content-Type", ct)
	}
	if loc := resp.Header.Get("location"); loc != "" {
		w.SetHeader("Location", loc)
	}
	w.Status(resp.Status)
	if _, err := io.Copy(w, resp.Body); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err) // the head is sent: the client sees the body cut short
	}
}

func main() {}
