package runtime

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		"broken": {"x": "no_method"},
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
