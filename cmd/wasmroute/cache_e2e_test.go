package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestServeCache serves a TypeScript route that opts into the response
// cache, with the default --max-cache and with --max-cache 0 (no cache).
func TestServeCache(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app", "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "export const revalidate = false\nlet runs = 0\nexport function GET(): Response { return new Response('run ' + ++runs) }\n"
	if err := os.WriteFile(filepath.Join(dir, "app", "t", "route.ts"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	type answer struct{ Cache, Body string }
	for _, tt := range []struct {
		args []string
		want []answer
	}{
		{nil, []answer{{"MISS", "run 1"}, {"HIT", "run 1"}}},
		{[]string{"--max-cache", "0"}, []answer{{"", "run 1"}, {"", "run 2"}}},
	} {
		s := start(t, append(tt.args, dir)...)
		var got []answer
		for range tt.want {
			resp, err := http.Get(s.url + "/t")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got = append(got, answer{resp.Header.Get("X-Wasmroute-Cache"), string(b)})
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("serve %v: two GETs (-want +got):\n%s", tt.args, diff)
		}
	}
}
