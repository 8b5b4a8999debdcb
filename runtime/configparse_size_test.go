package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// TestJSONFilePositions checks jsonFile.at, which counts from the nearest
// mark, against counting from the start of the file, at every offset of
// files of newlines, long lines, multi-byte characters and bytes that are
// no UTF-8 (a mark never splits a character, whatever the bytes).
func TestJSONFilePositions(t *testing.T) {
	naive := func(data []byte, off int) string {
		before := data[:off]
		line := bytes.Count(before, []byte("\n")) + 1
		col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
		return fmt.Sprintf("f:%d:%d", line, col)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "\n", "é", "€", "😀", "\x80", "\xe2\x82", "\xf0", "\xff", strings.Repeat("x", positionStep-1), strings.Repeat("\x80", 5)}
	files := map[string][]byte{
		"empty":         nil,
		"one newline":   []byte("\n"),
		"step of ascii": bytes.Repeat([]byte("x"), positionStep+1),
		"emoji line":    bytes.Repeat([]byte("😀"), 3*positionStep),
		"continuations": bytes.Repeat([]byte("\x80"), 3*positionStep),
		"leads":         bytes.Repeat([]byte("\xf0"), 3*positionStep),
	}
	for i := range 20 {
		var b []byte
		for len(b) < 6*positionStep {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		files[fmt.Sprintf("random %d", i)] = b
	}
	for name, data := range files {
		f := newJSONFile("f", data)
		for off := range len(data) + 1 {
			if got, want := f.at(int64(off)), naive(data, off); got != want {
				t.Errorf("%s: at(%d) = %s, want %s", name, off, got, want)
				break
			}
		}
	}
}

// hostileConfig is a config file of members (each "key": value) repeated
// until the file would pass maxConfigSize, joined by sep, and where each
// member's key is, as "line:column".
func hostileConfig(member func(i int) string, sep string) (data []byte, at []string) {
	var b strings.Builder
	b.WriteString("{")
	line, lineStart := 1, 0
	for i := 0; ; i++ {
		m := member(i)
		if i > 0 {
			m = sep + m
		}
		if b.Len()+len(m)+1 > maxConfigSize {
			break
		}
		for _, c := range []byte(m) {
			if c == '"' {
				break
			}
			if c == '\n' {
				line, lineStart = line+1, b.Len()+1
			}
			b.WriteByte(c)
		}
		at = append(at, fmt.Sprintf("%d:%d", line, b.Len()-lineStart+1))
		b.WriteString(m[strings.IndexByte(m, '"'):])
	}
	b.WriteString("}")
	return []byte(b.String()), at
}

// hostileConfigs are config files of a million bytes, each member of
// which is a problem; want words the problem of the member at at.
var hostileConfigs = []struct {
	name   string
	member func(i int) string
	sep    string
	want   func(i int, at string) string
}{
	{"duplicate keys", func(int) string { return `"maxDuration": "1s"` }, ",",
		func(i int, at string) string { return at + ": maxDuration: set twice" }},
	{"unknown keys", func(int) string { return `"a":0` }, ",",
		func(i int, at string) string { return at + `: unknown key "a"` }},
	{"misspelt keys, a line each", func(int) string { return `"maxDuraton": 0` }, ",\n",
		func(i int, at string) string { return at + `: unknown key "maxDuraton" (did you mean "maxDuration"?)` }},
	{"unknown keys, each another", func(i int) string { return fmt.Sprintf(`"maxWait%06d": 0`, i) }, ",",
		func(i int, at string) string { return fmt.Sprintf(`%s: unknown key "maxWait%06d"`, at, i) }},
}

// TestConfigHostileSize checks that a config file as large as allowed,
// made of problems, parses in linear time (it took minutes when every
// problem counted lines from the start of the file) and lists the first
// maxConfigProblems problems, each at its key, and how many more.
func TestConfigHostileSize(t *testing.T) {
	for _, tt := range hostileConfigs {
		t.Run(tt.name, func(t *testing.T) {
			data, at := hostileConfig(tt.member, tt.sep)
			start := time.Now()
			_, err := parseConfig(data, "wasmroute.json", false)
			took := time.Since(start)
			t.Logf("%d bytes, %d members: %v", len(data), len(at), took)
			if took > 2*time.Second {
				t.Errorf("parsing took %v, want well under a second", took)
			}
			if tt.name == "duplicate keys" {
				at = at[1:] // the first is set
			}
			problems := len(at)
			var want []string
			for i := range maxConfigProblems {
				want = append(want, "wasmroute.json:"+tt.want(i, at[i]))
			}
			want = append(want, fmt.Sprintf("wasmroute.json: %d more problems", problems-maxConfigProblems))
			if err == nil {
				t.Fatal("parseConfig: no error")
			}
			if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigHostileEnv: one problem per variable of a large env, which
// fileConfig.check finds twice (for the key, then for the file), is
// listed once, at the key, in linear time.
func TestConfigHostileEnv(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"env": {`)
	n := 0
	for ; b.Len() < maxConfigSize-20; n++ {
		if n > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"=%06d": ""`, n)
	}
	b.WriteString("}}")
	start := time.Now()
	_, err := parseConfig([]byte(b.String()), "wasmroute.json", false)
	took := time.Since(start)
	t.Logf("%d bytes, %d variables: %v", b.Len(), n, took)
	if took > 2*time.Second {
		t.Errorf("parsing took %v, want well under a second", took)
	}
	var want []string
	for i := range maxConfigProblems {
		want = append(want, fmt.Sprintf(`wasmroute.json:1:2: env: bad variable name "=%06d"`, i))
	}
	want = append(want, fmt.Sprintf("wasmroute.json: %d more problems", n-maxConfigProblems))
	if err == nil {
		t.Fatal("parseConfig: no error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestGrantsHostileSize: a grants file of a million bytes, a tenant with
// a problem every 16 bytes, is read in linear time, each problem at its
// line and column.
func TestGrantsHostileSize(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	var want []string
	for i := 0; b.Len() < maxConfigSize; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"t%d": {`, i)
		col := b.Len() + 1
		b.WriteString(`"a": 0}`)
		want = append(want, fmt.Sprintf(`:1:%d: tenant "t%d": unknown key "a"`, col, i))
	}
	b.WriteString("}")
	grants := filepath.Join(t.TempDir(), "grants.json")
	writeFile(t, grants, b.String())
	start := time.Now()
	_, err := ReadGrants(grants)
	took := time.Since(start)
	t.Logf("%d bytes, %d tenants: %v", b.Len(), len(want), took)
	if took > 2*time.Second {
		t.Errorf("ReadGrants took %v, want well under a second", took)
	}
	if err == nil {
		t.Fatal("ReadGrants: no error")
	}
	for i := range want {
		want[i] = grants + want[i]
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestConfigHostileSizeServed: hostile config files of the largest size
// allowed in one tenant, and in one route of a project in dev, load in
// linear time, their problems listed to 20 and counted past, while the
// healthy tenant and route answer.
func TestConfigHostileSizeServed(t *testing.T) {
	unknown, _ := hostileConfig(hostileConfigs[1].member, ",")
	dup, at := hostileConfig(hostileConfigs[0].member, ",")
	dupMore := fmt.Sprintf("app/hello/route.json: %d more problems", len(at)-1-maxConfigProblems)
	unknownMore := fmt.Sprintf("wasmroute.json: %d more problems", len(unknown)/6-maxConfigProblems)

	t.Run("tenants", func(t *testing.T) {
		dir := tenants(t, map[string]map[string]string{"good": {"hello": "hello"}, "evil": {"hello": "hello"}})
		writeFile(t, filepath.Join(dir, "evil", "wasmroute.json"), string(unknown))
		writeFile(t, filepath.Join(dir, "evil", "app", "hello", "route.json"), string(dup))
		start := time.Now()
		ts, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Domain: "test", Project: Config{Logger: slog.New(slog.DiscardHandler)}})
		took := time.Since(start)
		t.Logf("NewTenants: %v", took)
		if err != nil {
			t.Fatal(err)
		}
		defer ts.Close(context.Background())
		if took > 4*time.Second {
			t.Errorf("NewTenants took %v, want well under a second", took)
		}
		var le *LoadError
		if err := ts.Errors()["evil"]; !errors.As(err, &le) {
			t.Fatalf("tenant evil: load error %v, want a *LoadError", err)
		}
		if got, want := len(le.Problems), 2*(maxConfigProblems+1); got != want || !slices.Contains(le.Problems, unknownMore) || !slices.Contains(le.Problems, dupMore) {
			t.Errorf("tenant evil: %d problems, want %d with %q and %q:\n%s", got, want, unknownMore, dupMore, strings.Join(le.Problems, "\n"))
		}
		get := serveTenants(t, ts, "test")
		if status, body := get("good", "/hello"); status != 200 || body != "hello" {
			t.Errorf("good/hello = %d %q, want 200 hello", status, body)
		}
		if status, _ := get("evil", "/hello"); status != 503 {
			t.Errorf("evil/hello = %d, want 503", status)
		}
	})

	t.Run("dev", func(t *testing.T) {
		dir := project(t, map[string]string{"ok": "hello", "hello": "hello"})
		writeFile(t, filepath.Join(dir, "app", "hello", "route.json"), string(dup))
		start := time.Now()
		s, err := New(context.Background(), Config{Dir: dir, Dev: true, Logger: slog.New(slog.DiscardHandler)})
		took := time.Since(start)
		t.Logf("New: %v", took)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		if took > 4*time.Second {
			t.Errorf("New took %v, want well under a second", took)
		}
		srv := httptest.NewServer(s)
		defer srv.Close()
		if a := get(t, srv.URL+"/ok"); a.status != 200 || a.body != "hello" {
			t.Errorf("/ok = %d %q, want 200 hello", a.status, a.body)
		}
		a := get(t, srv.URL+"/hello")
		status, body := a.status, a.body
		if status != 500 || !strings.Contains(body, "app/hello/route.json:1:22: maxDuration: set twice") || !strings.Contains(body, dupMore) || strings.Count(body, "set twice") != maxConfigProblems {
			t.Errorf("/hello = %d, want 500 listing %d problems and %q:\n%.4000s", status, maxConfigProblems, dupMore, body)
		}
	})
}
