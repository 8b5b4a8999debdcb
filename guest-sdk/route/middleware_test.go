package route_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

// TestMiddlewareHelpers checks the headers the middleware helpers write:
// the wire protocol the host reads (runtime's TestMiddlewareWasm serves it).
func TestMiddlewareHelpers(t *testing.T) {
	req := routetest.NewRequest("GET", "/old?x=1", nil)
	req.Header.Set("X-Drop", "d")
	req.Header.Set("Accept", "a")
	res := routetest.Run(func(w *route.Response, r *route.Request) {
		h := r.Headers()
		delete(h, "x-drop")
		h["X-User"] = []string{"ada", "lovelace"}
		if err := w.Rewrite("/new?y=2"); err != nil {
			t.Error(err)
		}
		if err := w.SetRequestHeaders(h); err != nil {
			t.Error(err)
		}
		if err := w.Rewrite("https://evil.example/"); !errors.Is(err, route.ErrInvalid) {
			t.Errorf("Rewrite to another host: %v, want ErrInvalid", err)
		}
	}, req)
	want := http.Header{
		"X-Middleware-Rewrite":          {"/new?y=2"},
		"X-Middleware-Next":             {"1"},
		"X-Middleware-Override-Headers": {"accept,host,x-user"},
		"X-Middleware-Request-Accept":   {"a"},
		"X-Middleware-Request-Host":     {"example.com"}, // the host keeps the request's own
		"X-Middleware-Request-X-User":   {"ada", "lovelace"},
	}
	if diff := cmp.Diff(want, res.Header); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
}
