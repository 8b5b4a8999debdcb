package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestServeMiddlewareGo builds and serves testdata/middleware, whose
// middleware.go uses the Go SDK's middleware helpers.
func TestServeMiddlewareGo(t *testing.T) {
	const project = "../../testdata/middleware"
	os.Remove(filepath.Join(project, "middleware.wasm"))
	if out, err := exec.Command(binary, "build", project).CombinedOutput(); err != nil {
		t.Fatalf("wasmroute build %s: %v\n%s", project, err, out)
	}
	s := start(t, project)
	if want := "middleware: middleware.wasm runs before the routes its matcher accepts"; !strings.Contains(s.stdout.String(), want) {
		t.Errorf("serve printed no %q:\n%s", want, s.stdout)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path string
		want exchange
	}{
		{"/private", exchange{401, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "who are you?"}},
		{"/old", exchange{307, http.Header{"Location": {"/echo/new"}}, ""}},
		{"/alias", exchange{200, http.Header{"Content-Type": {"application/json"}}, `{"slug":"aliased","search":"?via=go","user":null}`}},
		{"/echo/a", exchange{200, http.Header{"Content-Type": {"application/json"}, "X-Mw": {"go"}}, `{"slug":"a","search":"","user":"gopher"}`}},
		{"/healthy", exchange{200, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}, "ok"}},
		{"/panic", exchange{500, http.Header{}, ""}},
		{"/healthy", exchange{200, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}, "ok"}},
	}
	for _, tt := range tests {
		res, err := client.Get(s.url + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got := exchange{res.StatusCode, http.Header{}, string(body)}
		for _, k := range []string{"Content-Type", "Location", "X-Mw", "X-Middleware-Next"} {
			if v := res.Header.Values(k); v != nil {
				got.Header[k] = v
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
		}
	}
	for _, want := range []string{"middleware failed", "file=middleware.wasm", "middleware panics"} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("server log lacks %q:\n%s", want, s.stderr)
		}
	}
}
