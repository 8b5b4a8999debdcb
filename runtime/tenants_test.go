package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tenants lays out a tenants folder: each tenant maps to its routes as
// project takes them.
func tenants(t *testing.T, layout map[string]map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, routes := range layout {
		if err := os.Rename(project(t, routes), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTenants(t *testing.T) {
	dir := tenants(t, map[string]map[string]string{
		"acme":   {"hello": "hello"},
		"globex": {"hello": "counter"},
		"broken": {"x": "no_memory"},
		"_skip":  {"hello": "hello"},
	})
	logs := &syncBuffer{}
	ts, err := NewTenants(context.Background(), TenantsConfig{
		Dir:     dir,
		Domain:  "example.test",
		Hosts:   map[string]string{"www.acme.com": "acme"},
		Project: Config{Logger: slog.New(slog.NewTextHandler(logs, nil))},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(context.Background())
	if diff := cmp.Diff([]string{"acme", "globex"}, ts.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	if _, ok := ts.Errors()["broken"]; !ok || !strings.Contains(logs.String(), "tenant=broken") {
		t.Errorf("tenant broken: no load error reported; log:\n%s", logs)
	}
	tests := []struct {
		host string
		want response
	}{
		{"acme.example.test", response{200, nil, "hello"}},
		{"ACME.example.test:3000", response{200, nil, "hello"}},
		{"www.acme.com", response{200, nil, "hello"}},
		{"globex.example.test", response{200, nil, "0"}},
		{"broken.example.test", response{503, nil, "tenant unavailable\n"}},
		{"_skip.example.test", response{404, nil, "404 page not found\n"}},
		{"a.b.example.test", response{404, nil, "404 page not found\n"}},
		{"example.test", response{404, nil, "404 page not found\n"}},
		{"other.org", response{404, nil, "404 page not found\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/hello", nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			ts.ServeHTTP(rec, req)
			got := response{Status: rec.Code, Body: rec.Body.String()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Host %s (-want +got):\n%s", tt.host, diff)
			}
		})
	}
}

func TestTenantsConfigErrors(t *testing.T) {
	if _, err := NewTenants(context.Background(), TenantsConfig{Dir: filepath.Join(t.TempDir(), "none")}); err == nil || !strings.Contains(err.Error(), "tenants folder") {
		t.Errorf("missing folder: err = %v", err)
	}
	dir := tenants(t, map[string]map[string]string{"acme": {"hello": "hello"}})
	_, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Hosts: map[string]string{"www.x.com": "nobody"}})
	if err == nil || !strings.Contains(err.Error(), `host www.x.com maps to tenant "nobody", which has no folder`) {
		t.Errorf("unknown tenant in Hosts: err = %v", err)
	}
}

// serveTenants serves ts behind a real HTTP server and returns a function
// that GETs target from tenant (by Host) and returns the status and body.
func serveTenants(t *testing.T, ts http.Handler, domain string) func(tenant, target string) (int, string) {
	t.Helper()
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	return func(tenant, target string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tenant + "." + domain
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("GET %s%s: %v", tenant, target, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
}

// TestTenantsSymlinks checks that no file of a tenant is read through a
// symlink that leaves its folder: evil's wasmroute.json, route.json and
// route.wasm pointing into victim's folder are refused, naming the file,
// while a symlink that stays inside the project is followed.
func TestTenantsSymlinks(t *testing.T) {
	dir := tenants(t, map[string]map[string]string{
		"victim": {"hello": "hello"},
		"evil":   {"hello": "hello"},
		"route":  {"hello": "hello"},
		"module": {"hello": "hello"},
		"inside": {"hello": "hello"},
	})
	writeFile(t, filepath.Join(dir, "victim/wasmroute.json"), `{"env": {"DB_PASSWORD": "hunter2"}}`)
	writeFile(t, filepath.Join(dir, "victim/app/hello/route.json"), `{"env": {"API_KEY": "k"}}`)
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link("../victim/wasmroute.json", "evil/wasmroute.json")
	link("../../../victim/app/hello/route.json", "route/app/hello/route.json")
	os.Remove(filepath.Join(dir, "module/app/hello/route.wasm"))
	link("../../../victim/app/hello/route.wasm", "module/app/hello/route.wasm")
	writeFile(t, filepath.Join(dir, "inside/conf/wasmroute.json"), `{"maxWait": "1s"}`)
	link("conf/wasmroute.json", "inside/wasmroute.json")

	logs := &syncBuffer{}
	ts, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Domain: "test", Project: Config{Logger: slog.New(slog.NewTextHandler(logs, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(context.Background())
	if diff := cmp.Diff([]string{"inside", "victim"}, ts.Names()); diff != "" {
		t.Errorf("tenants loaded (-want +got):\n%s", diff)
	}
	for name, want := range map[string]string{
		"evil":   "wasmroute.json: cannot read: openat wasmroute.json: path escapes from parent",
		"route":  "app/hello/route.json: cannot read: openat app/hello/route.json: path escapes from parent",
		"module": "app/hello/route.wasm: symlink resolves outside the project",
	} {
		if err := ts.Errors()[name]; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("tenant %s: load error %v, want %q", name, err, want)
		}
	}
	if got := ts.Server("inside").cfg.Limits.MaxWait; got != time.Second {
		t.Errorf("inside: maxWait %v from its in-project symlinked wasmroute.json, want 1s", got)
	}
	get := serveTenants(t, ts, "test")
	for _, tenant := range []string{"evil", "route", "module"} {
		if status, _ := get(tenant, "/hello"); status != 503 {
			t.Errorf("%s/hello = %d, want 503", tenant, status)
		}
	}
	for _, tenant := range []string{"victim", "inside"} {
		if status, body := get(tenant, "/hello"); status != 200 || body != "hello" {
			t.Errorf("%s/hello = %d %q, want 200 hello", tenant, status, body)
		}
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the victim's secret reached the log:\n%s", logs)
	}
}

// TestTenantsFolderNames checks that a folder that no Host can reach (a
// capital, a dot, a space) is refused at load, naming it, and the others
// serve.
func TestTenantsFolderNames(t *testing.T) {
	dir := tenants(t, map[string]map[string]string{
		"Mixed": {"hello": "hello"}, "a.b": {"hello": "hello"}, "-x": {"hello": "hello"}, "ok-1": {"hello": "hello"},
	})
	ts, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Domain: "test", Project: Config{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(context.Background())
	if diff := cmp.Diff([]string{"ok-1"}, ts.Names()); diff != "" {
		t.Errorf("tenants loaded (-want +got):\n%s", diff)
	}
	for _, name := range []string{"Mixed", "a.b", "-x"} {
		if err := ts.Errors()[name]; err == nil || !strings.Contains(err.Error(), fmt.Sprintf("tenant folder %q: a tenant's folder name must be a lowercase DNS label", name)) {
			t.Errorf("%s: load error %v", name, err)
		}
	}
	get := serveTenants(t, ts, "test")
	if status, body := get("ok-1", "/hello"); status != 200 || body != "hello" {
		t.Errorf("ok-1/hello = %d %q", status, body)
	}
	if status, _ := get("mixed", "/hello"); status != 404 {
		t.Errorf("mixed/hello = %d, want 404", status)
	}
}

// TestTenantsGrants checks that an operator's grant raises one tenant's
// ceiling and only that tenant's.
func TestTenantsGrants(t *testing.T) {
	dir := tenants(t, map[string]map[string]string{"acme": {"hello": "hello"}, "globex": {"hello": "hello"}})
	for _, name := range []string{"acme", "globex"} {
		writeFile(t, filepath.Join(dir, name, "wasmroute.json"), `{"maxDuration": "2m", "maxTenantInstances": 64}`)
	}
	grants := filepath.Join(t.TempDir(), "grants.json")
	writeFile(t, grants, `{"acme": {"maxDuration": "5m", "maxTenantInstances": 100, "env": {"PLAN": "pro"}}}`)
	g, err := ReadGrants(grants)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Domain: "test", Grants: g,
		Project: Config{Limits: Limits{MaxDuration: time.Minute}, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(context.Background())
	if diff := cmp.Diff([]string{"acme"}, ts.Names()); diff != "" {
		t.Errorf("tenants loaded (-want +got):\n%s", diff)
	}
	if err := ts.Errors()["globex"]; err == nil || !strings.Contains(err.Error(), "wasmroute.json: maxDuration 2m0s is above the operator's ceiling of 1m0s; maxTenantInstances 64 is above the operator's ceiling of 32") {
		t.Errorf("globex: load error %v", err)
	}
	acme := ts.Server("acme").cfg
	if acme.Limits.MaxDuration != 2*time.Minute || acme.MaxTenantInstances != 64 || acme.Env["PLAN"] != "pro" {
		t.Errorf("acme: maxDuration %v, maxTenantInstances %d, env %v; want 2m, 64, PLAN=pro", acme.Limits.MaxDuration, acme.MaxTenantInstances, acme.Env)
	}
	get := serveTenants(t, ts, "test")
	if status, body := get("acme", "/hello"); status != 200 || body != "hello" {
		t.Errorf("acme/hello = %d %q, want 200 hello", status, body)
	}
	if status, _ := get("globex", "/hello"); status != 503 {
		t.Errorf("globex/hello = %d, want 503: its wasmroute.json asks for more than the operator allows", status)
	}
	writeFile(t, grants, `{"acme": {"maxDuraton": "5m"}}`)
	if _, err := ReadGrants(grants); err == nil || !strings.Contains(err.Error(), `grants.json:1:11: tenant "acme": unknown key "maxDuraton" (did you mean "maxDuration"?)`) {
		t.Errorf("misspelt key: %v", err)
	}
	_, err = NewTenants(context.Background(), TenantsConfig{Dir: dir, Grants: map[string]Grant{"nobody": {}}})
	if err == nil || !strings.Contains(err.Error(), `a grant names tenant "nobody", which has no folder`) {
		t.Errorf("grant for an unknown tenant: %v", err)
	}
}
