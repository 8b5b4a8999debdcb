package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// parseBound is the most a hostile config file of maxConfigSize may take
// to read: tens of milliseconds here, where the quadratic parse took from
// 25 s to minutes. Generous, for a loaded machine and the race detector.
func parseBound() time.Duration {
	if raceEnabled {
		return 10 * time.Second
	}
	return 2 * time.Second
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
			if took > parseBound() {
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
	if took > parseBound() {
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
	if took > parseBound() {
		t.Errorf("ReadGrants took %v, want well under a second", took)
	}
	if err == nil {
		t.Fatal("ReadGrants: no error")
	}
	more := fmt.Sprintf(": %d more problems", len(want)-maxConfigProblems)
	want = append(want[:maxConfigProblems], more)
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
		if took > 2*parseBound() {
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
		if took > 2*parseBound() {
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

// TestObject checks jsonFile.object, which cuts a valid object into its
// members by hand, on keys and values that look like the end of a member.
func TestObject(t *testing.T) {
	type m struct{ Key, Value, At, Start string }
	tests := []struct {
		in   string
		want []m
		err  string
	}{
		{in: `{}`},
		{in: " \t\r\n{ } \n"},
		{in: `{"a":1}, :`, want: []m{{"a", "1", "1:2", "1:6"}}}, // stray commas and colons pass, as they did
		{in: `{"a\"}": "x\\", "b" : {"c": ["}", "]", {}], "d": "{"}, "e":-1.5e3,"f":true,"g":null}`, want: []m{
			{`a"}`, `"x\\"`, "1:2", "1:10"},
			{"b", `{"c": ["}", "]", {}], "d": "{"}`, "1:17", "1:23"},
			{"e", "-1.5e3", "1:56", "1:60"},
			{"f", "true", "1:67", "1:71"},
			{"g", "null", "1:76", "1:80"},
		}},
		{in: "{\n\t\"\\u00e9\\n\": [1,\n2],\n\t\"\xff\": \"\"\n}", want: []m{
			{"é\n", "[1,\n2]", "2:2", "2:14"},
			{"\ufffd", `""`, "4:2", "4:7"},
		}},
		{in: `{"a":1} x`, err: "f:1:9: JSON syntax error: more after the object's closing brace"},
		{in: `{"a":1}{}`, err: "f:1:8: JSON syntax error: more after the object's closing brace"},
		{in: `{"a" 1}`, err: "f:1:6: JSON syntax error: invalid character '1' after object key"},
		{in: `{"a": [1,]}`, err: "f:1:10: JSON syntax error: invalid character ']' looking for beginning of value"},
		{in: "{\"a\": \"\n\"}", err: "f:1:8: JSON syntax error: invalid character '\\n' in string literal"},
		{in: `{"a": 1`, err: "f:1:8: JSON syntax error: unexpected end of file"},
		{in: ``, err: "f:1:1: JSON syntax error: unexpected end of file"},
		{in: ` [1] `, err: `f:1:2: want a JSON object ({"key": value, …}), got a list`},
		{in: `"x"`, err: `f:1:1: want a JSON object ({"key": value, …}), got a string`},
		{in: `-1`, err: `f:1:1: want a JSON object ({"key": value, …}), got a number`},
		{in: `nul`, err: `f:1:4: JSON syntax error: unexpected end of file`},
	}
	for _, tt := range tests {
		f := newJSONFile("f", []byte(tt.in))
		members, err := f.object(0, int64(len(tt.in)))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("object(%q): %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("object(%q): %v", tt.in, err)
			continue
		}
		var got []m
		for _, mb := range members {
			got = append(got, m{mb.key, string(mb.value), strings.TrimPrefix(f.at(mb.at), "f:"), strings.TrimPrefix(f.at(mb.start), "f:")})
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("object(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// FuzzObject checks jsonFile.object against encoding/json's decoder, token
// by token: the same objects accepted, the same keys and values.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a": 1, "a": [1, {"b": "}"}], "c\u00e9": "\\\""}`, "{\n\"maxBody\": \"1KiB\",\n}", `{"a":1} ,`, `[1]`, `{"a" 1}`, "{\"\xff\": 1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		type m struct{ Key, Value string }
		members, err := newJSONFile("f", b).object(0, int64(len(b)))
		var got []m
		for _, mb := range members {
			got = append(got, m{mb.key, string(mb.value)})
		}
		// What a decoder reads: an object, then nothing but white space,
		// commas and colons.
		var want []m
		dec := json.NewDecoder(bytes.NewReader(b))
		ok := func() bool {
			if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
				return false
			}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return false
				}
				var v json.RawMessage
				if err := dec.Decode(&v); err != nil {
					return false
				}
				want = append(want, m{tok.(string), string(v)})
			}
			if _, err := dec.Token(); err != nil {
				return false
			}
			rest, _ := io.ReadAll(dec.Buffered())
			return strings.Trim(string(rest), " \t\r\n,:") == ""
		}()
		if ok != (err == nil) {
			t.Fatalf("object(%q): %v; the decoder accepts it: %v", b, err, ok)
		}
		if ok {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("object(%q) (-decoder +object):\n%s", b, diff)
			}
		}
	})
}
