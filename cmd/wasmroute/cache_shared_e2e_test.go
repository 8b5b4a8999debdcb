package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/testredis"
)

// TestServeSharedCache runs two wasmroute serve --shared-cache on one
// project and one redis-server, as replicas behind a load balancer: what
// one caches the other serves, and revalidatePath on one drops it for
// both. Without a Redis store the flag is refused.
func TestServeSharedCache(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"page/route.ts": `import { kv } from 'wasmroute:kv'
export const revalidate = false
export async function GET() { return new Response('run=' + await kv.incr('runs')) }`,
		"update/route.ts": `import { revalidatePath } from 'next/cache'
export function POST(req: Request) {
	revalidatePath(new URL(req.url).searchParams.get('path')!)
	return new Response('ok')
}`,
	} {
		path := filepath.Join(dir, "app", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	out, err := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--cache-dir", cacheDir, "--shared-cache", dir).CombinedOutput()
	if exit := (*exec.ExitError)(nil); !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "--kv redis://") {
		t.Errorf("serve --shared-cache without --kv: %v\n%s", err, out)
	}

	redis := testredis.Start(t)
	a := start(t, "--kv", redis, "--shared-cache", dir)
	b := start(t, "--kv", redis, "--shared-cache", dir)
	type answer struct {
		Status      int
		Cache, Body string
	}
	ask := func(method, url string) answer {
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "shared.test" // one Host for both, as behind a balancer
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header.Get("X-Wasmroute-Cache"), string(body)}
	}
	want := []answer{
		{200, "MISS", "run=1"},
		{200, "HIT", "run=1"},
		{200, "", "ok"},
		{200, "MISS", "run=2"},
		{200, "HIT", "run=2"},
	}
	got := []answer{
		ask("GET", a.url+"/page"),
		ask("GET", b.url+"/page"),
		ask("POST", a.url+"/update?path=/page"),
		ask("GET", b.url+"/page"),
		ask("GET", a.url+"/page"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET on a, GET on b, revalidatePath on a, GET on b, GET on a (-want +got):\n%s", diff)
	}
}
