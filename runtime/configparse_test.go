package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConfigProblemsAtOnce: every problem of every config file is listed
// by one load, each with the file, line and column of the key at fault (or
// of the JSON syntax error).
func TestConfigProblemsAtOnce(t *testing.T) {
	dir := project(t, map[string]string{"a": "hello", "b": "hello", "c": "hello", "d": "hello", "e": "hello", "f": "hello", "g": "hello", "h": "hello"})
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{
  "maxDuraton": "1s",
  "maxMemory": "lots",
  "maxHeaders": "ten",
  "isolation": "process",
  "maxKVKeys": -1,
  "kv": "memcached://x",
  "allowedOutboundHosts": [1],
  "maxDuration": "1s",
  "maxDuration": "2s"
}`)
	writeFile(t, filepath.Join(dir, "app/a/route.json"), "{\n  \"maxBody\": \"1KiB\",\n  \"maxWait\": 5\n  \"maxInstances\": 2\n}")
	writeFile(t, filepath.Join(dir, "app/b/route.json"), `{"maxBody": "1KiB",`)
	writeFile(t, filepath.Join(dir, "app/c/route.json"), `["maxBody"]`)
	writeFile(t, filepath.Join(dir, "app/d/route.json"), `{"maxBody": "1KiB"} {"maxWait": "1s"}`)
	writeFile(t, filepath.Join(dir, "app/e/route.json"), "{\n\t\"kv\": \"redis://127.0.0.1:6379\",\n\t\"maxKVValue\": \"1KiB\",\n\t\"env\": {\"A=B\": \"c\", \"OK\": 1}\n}")
	writeFile(t, filepath.Join(dir, "app/f/route.json"), "")
	writeFile(t, filepath.Join(dir, "app/g/route.json"), "{\"é\": 1, \"maxFetches\": -1}")
	var many []string
	for i := range 30 {
		many = append(many, fmt.Sprintf(`"k%d": 1`, i))
	}
	writeFile(t, filepath.Join(dir, "app/h/route.json"), "{"+strings.Join(many, ",\n")+"}")
	_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want := []string{
		`app/a/route.json:4:3: JSON syntax error: invalid character '"' after object key:value pair`,
		`app/b/route.json:1:20: JSON syntax error: unexpected end of file`,
		`app/c/route.json:1:1: want a JSON object ({"key": value, …}), got a list`,
		`app/d/route.json:1:21: JSON syntax error: more after the object's closing brace`,
		`app/e/route.json:2:2: kv belongs in the project's wasmroute.json`,
		`app/e/route.json:3:2: maxKVValue belongs in the project's wasmroute.json`,
		`app/e/route.json:4:2: env: want a string or {"fromEnv": "NAME"}, got 1`,
		`app/f/route.json:1:1: JSON syntax error: unexpected end of file`,
		`app/g/route.json:1:2: unknown key "é"`,
		`app/g/route.json:1:10: maxFetches: limits cannot be negative`,
	}
	want = append(want, `app/h/route.json:1:2: unknown key "k0"`)
	for i := 1; i < 20; i++ {
		want = append(want, fmt.Sprintf(`app/h/route.json:%d:1: unknown key "k%d"`, i+1, i))
	}
	want = append(want, "app/h/route.json: 10 more problems",
		`wasmroute.json:2:3: unknown key "maxDuraton" (did you mean "maxDuration"?)`,
		`wasmroute.json:3:3: maxMemory: bad size "lots": want bytes, or a number with KiB, MiB or GiB`,
		`wasmroute.json:4:3: maxHeaders: want a number, got a string`,
		`wasmroute.json:5:3: isolation "process" is neither "instance" nor "request"`,
		`wasmroute.json:6:3: maxKVKeys cannot be negative`,
		`wasmroute.json:7:3: kv "memcached://x": want redis://HOST:PORT (or rediss://, valkey://, unix://), or none for the embedded store`,
		`wasmroute.json:8:3: allowedOutboundHosts: want a string, got a number`,
		`wasmroute.json:10:3: maxDuration: set twice`,
	)
	if diff := cmp.Diff(want, le.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestGrantsProblemsAtOnce: the operator's grants file too.
func TestGrantsProblemsAtOnce(t *testing.T) {
	grants := filepath.Join(t.TempDir(), "grants.json")
	writeFile(t, grants, `{
  "acme": {"maxDuraton": "5m", "maxMemory": 7},
  "globex": {"kv": "redis://127.0.0.1:1"},
  "acme": {},
  "initech": {"middleware": {"maxDuration": "1s"}}
}`)
	_, err := ReadGrants(grants)
	if err == nil {
		t.Fatal("ReadGrants: no error")
	}
	want := []string{
		grants + `:2:12: tenant "acme": unknown key "maxDuraton" (did you mean "maxDuration"?)`,
		grants + `:2:32: tenant "acme": maxMemory 7 is outside 64KiB..4GiB`,
		grants + `:3:3: tenant "globex": kv: tenants share the server's store (--kv)`,
		grants + `:4:3: tenant "acme": set twice`,
		grants + `:5:3: tenant "initech": middleware: a tenant's middleware and its limits are in its own files`,
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	writeFile(t, grants, "{\"acme\": {\"maxDuration\": \"5m\"}\n\"globex\": {}}")
	if _, err := ReadGrants(grants); err == nil || err.Error() != grants+`:2:1: JSON syntax error: invalid character '"' after object key:value pair` {
		t.Errorf("ReadGrants of a syntax error: %v", err)
	}
}
