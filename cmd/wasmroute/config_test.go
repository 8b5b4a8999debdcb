package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRoutesCommandConfigProblems: wasmroute routes lists every problem of
// every config file at once, with its line and column, and exits 1.
func TestRoutesCommandConfigProblems(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, "hello", dir, "a")
	copyFixture(t, "hello", dir, "b")
	for name, content := range map[string]string{
		"wasmroute.json":   "{\n  \"maxDuraton\": \"1s\",\n  \"maxMemory\": \"lots\"\n}\n",
		"app/a/route.json": "{\n  \"maxBody\": \"1KiB\"\n  \"maxWait\": \"1s\"\n}\n",
		"app/b/route.json": "{\"isolation\": \"process\", \"kv\": \"redis://127.0.0.1:6379\"}",
	} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"routes", "--cache-dir", "", dir}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	want := "5 load error(s):\n" +
		"\tapp/a/route.json:3:3: JSON syntax error: invalid character '\"' after object key:value pair\n" +
		"\tapp/b/route.json:1:2: isolation \"process\" is neither \"instance\" nor \"request\"\n" +
		"\tapp/b/route.json:1:26: kv belongs in the project's wasmroute.json\n" +
		"\twasmroute.json:2:3: unknown key \"maxDuraton\" (did you mean \"maxDuration\"?)\n" +
		"\twasmroute.json:3:3: maxMemory: bad size \"lots\": want bytes, or a number with KiB, MiB or GiB\n"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks\n%s\ngot:\n%s", want, stderr.String())
	}
}
