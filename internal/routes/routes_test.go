package routes

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// project is the route folders of a project covering SPEC.md §1.
var project = []string{
	"",
	"api/hello",
	"blog/[slug]",
	"blog/new",
	"blog/[slug]/x",
	"docs/[...path]",
	"docs/intro",
	"files/[[...path]]",
	"(admin)/stats",
	"(a)/(b)/nested",
	"_lib/x",
	"_lib",
	"%5Fwell",
	"caf%C3%A9",
	"a%2Fb",
	"p/[id]",
	"p/[...rest]",
	"shop/[a]/b",
	"shop/[...all]",
	"u/[user]/[repo]",
}

func TestLookup(t *testing.T) {
	type match struct {
		Pattern string
		Dir     string
		Params  []Param
		Values  [][]string
	}
	table, err := Build(project)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want *match // nil: no match
	}{
		{"/", &match{Pattern: "/", Dir: ""}},
		{"/api/hello", &match{Pattern: "/api/hello", Dir: "api/hello"}},
		{"/api/hello/x", nil},
		{"/api", nil},
		{"/blog/hello", &match{"/blog/[slug]", "blog/[slug]", []Param{{Name: "slug", Value: "hello"}}, [][]string{{"hello"}}}},
		{"/blog/new", &match{Pattern: "/blog/new", Dir: "blog/new"}},
		{"/blog/new/x", &match{"/blog/[slug]/x", "blog/[slug]/x", []Param{{Name: "slug", Value: "new"}}, [][]string{{"new"}}}},
		{"/blog/hello%20x", &match{"/blog/[slug]", "blog/[slug]", []Param{{Name: "slug", Value: "hello%20x"}}, [][]string{{"hello x"}}}},
		{"/blog/100%", &match{"/blog/[slug]", "blog/[slug]", []Param{{Name: "slug", Value: "100%"}}, [][]string{{"100%"}}}},
		{"/blog", nil},
		{"/blog/", nil},
		{"/blog//x", nil},
		{"/docs/a", &match{"/docs/[...path]", "docs/[...path]", []Param{{Name: "path", Value: "a", CatchAll: true}}, [][]string{{"a"}}}},
		{"/docs/a/b%2Fc/d", &match{"/docs/[...path]", "docs/[...path]", []Param{{Name: "path", Value: "a/b%2Fc/d", CatchAll: true}}, [][]string{{"a", "b/c", "d"}}}},
		{"/docs/intro", &match{Pattern: "/docs/intro", Dir: "docs/intro"}},
		{"/docs/intro/more", &match{"/docs/[...path]", "docs/[...path]", []Param{{Name: "path", Value: "intro/more", CatchAll: true}}, [][]string{{"intro", "more"}}}},
		{"/docs", nil},
		{"/docs/a//b", nil},
		{"/docs/a/", nil},
		{"/files", &match{"/files/[[...path]]", "files/[[...path]]", []Param{{Name: "path", CatchAll: true}}, [][]string{nil}}},
		{"/files/a", &match{"/files/[[...path]]", "files/[[...path]]", []Param{{Name: "path", Value: "a", CatchAll: true}}, [][]string{{"a"}}}},
		{"/files/a/b", &match{"/files/[[...path]]", "files/[[...path]]", []Param{{Name: "path", Value: "a/b", CatchAll: true}}, [][]string{{"a", "b"}}}},
		{"/stats", &match{Pattern: "/stats", Dir: "(admin)/stats"}},
		{"/admin/stats", nil},
		{"/(admin)/stats", nil},
		{"/nested", &match{Pattern: "/nested", Dir: "(a)/(b)/nested"}},
		{"/_lib", nil},
		{"/_lib/x", nil},
		{"/_well", &match{Pattern: "/_well", Dir: "%5Fwell"}},
		{"/%5Fwell", &match{Pattern: "/_well", Dir: "%5Fwell"}},
		{"/%5fwell", &match{Pattern: "/_well", Dir: "%5Fwell"}},
		{"/caf%C3%A9", &match{Pattern: "/café", Dir: "caf%C3%A9"}},
		{"/café", &match{Pattern: "/café", Dir: "caf%C3%A9"}},
		{"/a%2Fb", &match{Pattern: "/a%2Fb", Dir: "a%2Fb"}},
		{"/a%2fb", &match{Pattern: "/a%2Fb", Dir: "a%2Fb"}},
		{"/a/b", nil},
		{"/p/1", &match{"/p/[id]", "p/[id]", []Param{{Name: "id", Value: "1"}}, [][]string{{"1"}}}},
		{"/p/1/2", &match{"/p/[...rest]", "p/[...rest]", []Param{{Name: "rest", Value: "1/2", CatchAll: true}}, [][]string{{"1", "2"}}}},
		{"/shop/x/b", &match{"/shop/[a]/b", "shop/[a]/b", []Param{{Name: "a", Value: "x"}}, [][]string{{"x"}}}},
		{"/shop/x/c", &match{"/shop/[...all]", "shop/[...all]", []Param{{Name: "all", Value: "x/c", CatchAll: true}}, [][]string{{"x", "c"}}}},
		{"/shop/x", &match{"/shop/[...all]", "shop/[...all]", []Param{{Name: "all", Value: "x", CatchAll: true}}, [][]string{{"x"}}}},
		{"/u/ann/%zz", &match{"/u/[user]/[repo]", "u/[user]/[repo]", []Param{{Name: "user", Value: "ann"}, {Name: "repo", Value: "%zz"}}, [][]string{{"ann"}, {"%zz"}}}},
		{"/u/ann", nil},
		{"", nil},
		{"api/hello", nil},
		{"//", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			ps := []Param{{Name: "stale"}}
			r, ps, ok := table.Lookup(tt.path, ps[:0])
			var got *match
			if ok {
				got = &match{Pattern: r.Pattern, Dir: r.Dir, Params: ps}
				for _, p := range ps {
					got.Values = append(got.Values, p.Values())
				}
				if r != table.Routes()[r.Index] {
					t.Errorf("route %s has Index %d, Routes()[%d] is %s", r.Pattern, r.Index, r.Index, table.Routes()[r.Index].Pattern)
				}
			} else if r != nil || len(ps) != 0 {
				t.Errorf("no match returned route %v, params %v", r, ps)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestLookupRootCatchAll(t *testing.T) {
	tests := []struct {
		dirs []string
		path string
		want []Param // nil: no match
	}{
		{[]string{"[[...all]]"}, "/", []Param{{Name: "all", CatchAll: true}}},
		{[]string{"[[...all]]"}, "/a/b", []Param{{Name: "all", Value: "a/b", CatchAll: true}}},
		{[]string{"[...all]"}, "/", nil},
		{[]string{"[...all]"}, "/a", []Param{{Name: "all", Value: "a", CatchAll: true}}},
		{[]string{"[id]"}, "/", nil},
		{[]string{"[id]"}, "/%2F", []Param{{Name: "id", Value: "%2F"}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.dirs, tt.path), func(t *testing.T) {
			table, err := Build(tt.dirs)
			if err != nil {
				t.Fatal(err)
			}
			_, got, ok := table.Lookup(tt.path, nil)
			if ok != (tt.want != nil) {
				t.Fatalf("Lookup(%q) ok = %v", tt.path, ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	table, err := Build([]string{"blog/[slug]", "", "(g)/docs/[...path]", "_private/x", "u/[user]/[[...rest]]", "blog/[slug]"})
	if err != nil {
		t.Fatal(err)
	}
	want := []*Route{
		{Pattern: "/", Dir: "", Index: 0},
		{Pattern: "/blog/[slug]", Dir: "blog/[slug]", Params: []string{"slug"}, Index: 1},
		{Pattern: "/docs/[...path]", Dir: "(g)/docs/[...path]", Params: []string{"path"}, Index: 2},
		{Pattern: "/u/[user]/[[...rest]]", Dir: "u/[user]/[[...rest]]", Params: []string{"user", "rest"}, Index: 3},
	}
	if diff := cmp.Diff(want, table.Routes()); diff != "" {
		t.Errorf("Routes() (-want +got):\n%s", diff)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		dirs []string
		want []string
	}{
		{"groups", []string{"(a)/x", "(b)/x"}, []string{"app/(a)/x, app/(b)/x: both resolve to /x; keep one"}},
		{"group and plain", []string{"x", "(g)/x"}, []string{"app/(g)/x, app/x: both resolve to /x; keep one"}},
		{"three", []string{"x", "(g)/x", "(h)/(i)/x"}, []string{"app/(g)/x, app/(h)/(i)/x, app/x: all 3 resolve to /x; keep one"}},
		{"root", []string{"", "(g)"}, []string{"app, app/(g): both resolve to /; keep one"}},
		{"escaped literal", []string{"%5Fa", "%5fa"}, []string{"app/%5Fa, app/%5fa: both resolve to /_a; keep one"}},
		{"optional catch-all and its parent", []string{"files", "files/[[...path]]"}, []string{
			"app/files, app/files/[[...path]]: both resolve to /files ([[...path]] also matches no segment); remove one or use [...path]"}},
		{"optional catch-all at root", []string{"", "(g)/[[...all]]"}, []string{
			"app, app/(g)/[[...all]]: both resolve to / ([[...all]] also matches no segment); remove one or use [...all]"}},
		{"param names", []string{"blog/[id]", "blog/[slug]"}, []string{
			"app/blog/[id], app/blog/[slug]: different param names at the same level ([id] vs [slug]); use one name"}},
		{"param names deeper", []string{"(a)/blog/[id]/edit", "(b)/blog/[slug]", "blog/[slug]/x"}, []string{
			"app/(a)/blog/[id]/edit, app/(b)/blog/[slug], app/blog/[slug]/x: different param names at the same level ([id] vs [slug]); use one name"}},
		{"catch-all names", []string{"docs/[...a]", "docs/[...b]"}, []string{
			"app/docs/[...a], app/docs/[...b]: different param names at the same level ([...a] vs [...b]); use one name"}},
		{"optional catch-all names", []string{"docs/[[...a]]", "docs/[[...b]]"}, []string{
			"app/docs/[[...a]], app/docs/[[...b]]: different param names at the same level ([[...a]] vs [[...b]]); use one name"}},
		{"required and optional catch-all", []string{"a/[...x]", "a/[[...x]]"}, []string{
			"app/a/[...x], app/a/[[...x]]: a required and an optional catch-all at the same level ([...x] vs [[...x]]); keep one"}},
		{"repeated param", []string{"[id]/x/[id]"}, []string{
			`app/[id]/x/[id]: param name "id" is used twice in one path ([id] and [id]); rename one`}},
		{"repeated param catch-all", []string{"[id]/[...id]"}, []string{
			`app/[id]/[...id]: param name "id" is used twice in one path ([id] and [...id]); rename one`}},
		{"catch-all not last", []string{"[...a]/b"}, []string{
			"app/[...a]/b: catch-all [...a] is not the last segment (b follows it); a catch-all takes the rest of the path, so no route can be under it"}},
		{"route under catch-all", []string{"docs/[...path]", "docs/[...path]/(g)/edit"}, []string{
			"app/docs/[...path]/(g)/edit: catch-all [...path] is not the last segment (edit follows it); a catch-all takes the rest of the path, so no route can be under it"}},
		{"optional without dots", []string{"[[x]]"}, []string{
			`app/[[x]]: invalid segment "[[x]]": an optional param must be a catch-all; write [[...x]] or [x]`}},
		{"empty param", []string{"[]"}, []string{`app/[]: invalid segment "[]": empty param name; write [name]`}},
		{"empty catch-all", []string{"[...]"}, []string{`app/[...]: invalid segment "[...]": empty param name; write [...name]`}},
		{"empty optional catch-all", []string{"[[...]]"}, []string{`app/[[...]]: invalid segment "[[...]]": empty param name; write [[...name]]`}},
		{"empty optional", []string{"[[]]"}, []string{`app/[[]]: invalid segment "[[]]": empty param name; write [[...name]]`}},
		{"unbalanced open", []string{"[x"}, []string{`app/[x: invalid segment "[x": unbalanced or misplaced brackets; a param is a whole segment such as [name]`}},
		{"unbalanced close", []string{"x]"}, []string{`app/x]: invalid segment "x]": unbalanced or misplaced brackets; a param is a whole segment such as [name]`}},
		{"unbalanced double", []string{"[[...x]"}, []string{`app/[[...x]: invalid segment "[[...x]": unbalanced or misplaced brackets; a param is a whole segment such as [name]`}},
		{"brackets inside", []string{"a[b]c"}, []string{`app/a[b]c: invalid segment "a[b]c": unbalanced or misplaced brackets; a param is a whole segment such as [name]`}},
		{"param name digit", []string{"[1x]"}, []string{`app/[1x]: invalid segment "[1x]": param name "1x" must match [A-Za-z_][A-Za-z0-9_-]*`}},
		{"param name dot", []string{"[...a.b]"}, []string{`app/[...a.b]: invalid segment "[...a.b]": param name "a.b" must match [A-Za-z_][A-Za-z0-9_-]*`}},
		{"param name dots", []string{"[....x]"}, []string{`app/[....x]: invalid segment "[....x]": param name ".x" must match [A-Za-z_][A-Za-z0-9_-]*`}},
		{"space", []string{"a b"}, []string{`app/a b: invalid segment "a b": ' ' is not allowed in a URL segment; write it as %20`}},
		{"control", []string{"a\tb"}, []string{`app/a` + "\t" + `b: invalid segment "a\tb": '\t' is not allowed in a URL segment; write it as %09`}},
		{"question mark", []string{"a?"}, []string{`app/a?: invalid segment "a?": '?' is not allowed in a URL segment; write it as %3F`}},
		{"hash", []string{"x/#a"}, []string{`app/x/#a: invalid segment "#a": '#' is not allowed in a URL segment; write it as %23`}},
		{"backslash", []string{`a\b`}, []string{`app/a\b: invalid segment "a\\b": '\\' is not allowed in a URL segment; write it as %5C`}},
		{"bad escape", []string{"a%zz"}, []string{`app/a%zz: invalid segment "a%zz": bad escape "%zz"; write a literal % as %25`}},
		{"short escape", []string{"a%4"}, []string{`app/a%4: invalid segment "a%4": bad escape "%4"; write a literal % as %25`}},
		{"empty", []string{"a//b"}, []string{`app/a//b: invalid segment "": empty folder name`}},
		{"trailing slash", []string{"a/"}, []string{`app/a/: invalid segment "": empty folder name`}},
		{"dot dot", []string{"a/.."}, []string{`app/a/..: invalid segment "..": not a valid URL segment: it means the current or parent folder`}},
		{"escaped dot", []string{"%2e"}, []string{`app/%2e: invalid segment "%2e": not a valid URL segment: it means the current or parent folder`}},
		{"invalid UTF-8", []string{"a\xff"}, []string{`app/a` + "\xff" + `: invalid segment "a\xff": not valid UTF-8`}},
		{"several", []string{
			"blog/[id]", "blog/[slug]", "(a)/x", "(b)/x", "[...a]/b", "a b/[]", "ok", "_private/[bad",
		}, []string{
			"app/(a)/x, app/(b)/x: both resolve to /x; keep one",
			"app/[...a]/b: catch-all [...a] is not the last segment (b follows it); a catch-all takes the rest of the path, so no route can be under it",
			`app/a b/[]: invalid segment "[]": empty param name; write [name]`,
			`app/a b/[]: invalid segment "a b": ' ' is not allowed in a URL segment; write it as %20`,
			"app/blog/[id], app/blog/[slug]: different param names at the same level ([id] vs [slug]); use one name",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := Build(tt.dirs)
			if table != nil {
				t.Errorf("Build returned a table and %v", err)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Build error %T %v, want Errors", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Build errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(strings.Join(tt.want, "\n"), err.Error()); diff != "" {
				t.Errorf("Errors.Error() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorFiles(t *testing.T) {
	_, err := Build([]string{"(b)/x", "(a)/x"})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(%v, *Error) failed", err)
	}
	want := &Error{Files: []string{"app/(a)/x", "app/(b)/x"}, Msg: "both resolve to /x; keep one"}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("Error (-want +got):\n%s", diff)
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, escaped string }{
		{"", ""},
		{"plain", "plain"},
		{"_x", "_x"},
		{"café", "café"},
		{"a/b", "a%2Fb"},
		{"100%", "100%25"},
		{"[x]", "%5Bx%5D"},
		{"a b?#\\\x7f", "a%20b%3F%23%5C%7F"},
		{"\xff", "%FF"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := escape(tt.in); got != tt.escaped {
				t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.escaped)
			}
			if got := unescape(tt.escaped); got != tt.in {
				t.Errorf("unescape(%q) = %q, want %q", tt.escaped, got, tt.in)
			}
		})
	}
}

func TestLookupAllocs(t *testing.T) {
	table, err := Build(project)
	if err != nil {
		t.Fatal(err)
	}
	ps := make([]Param, 0, 8)
	for _, path := range []string{"/", "/api/hello", "/blog/new/x", "/docs/a/b", "/files", "/shop/x/c", "/u/a/b", "/nope/x"} {
		if n := testing.AllocsPerRun(100, func() { _, ps, _ = table.Lookup(path, ps[:0]) }); n != 0 {
			t.Errorf("Lookup(%q) makes %v allocations, want 0", path, n)
		}
	}
}

// benchTable returns 1,000 routes, static and dynamic, and paths matching them.
func benchTable(b *testing.B) (*Table, []string) {
	var dirs, paths []string
	for i := range 100 {
		dirs = append(dirs,
			fmt.Sprintf("section%d/about", i), fmt.Sprintf("section%d/contact", i),
			fmt.Sprintf("section%d/[slug]", i), fmt.Sprintf("section%d/[slug]/comments", i),
			fmt.Sprintf("api/v1/res%d", i), fmt.Sprintf("api/v1/res%d/[id]", i),
			fmt.Sprintf("api/v1/res%d/[id]/items/[item]", i),
			fmt.Sprintf("docs%d/[...path]", i), fmt.Sprintf("docs%d/intro", i),
			fmt.Sprintf("files%d/[[...path]]", i))
		paths = append(paths,
			fmt.Sprintf("/section%d/about", i), fmt.Sprintf("/section%d/hello-world", i),
			fmt.Sprintf("/section%d/about/comments", i), fmt.Sprintf("/api/v1/res%d/42/items/7", i),
			fmt.Sprintf("/docs%d/a/b/c", i), fmt.Sprintf("/files%d", i))
	}
	t, err := Build(dirs)
	if err != nil {
		b.Fatal(err)
	}
	if n := len(t.Routes()); n != 1000 {
		b.Fatalf("%d routes, want 1000", n)
	}
	return t, paths
}

func BenchmarkLookup(b *testing.B) {
	table, paths := benchTable(b)
	ps := make([]Param, 0, 8)
	b.Run("mixed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_, ps, _ = table.Lookup(paths[i%len(paths)], ps[:0])
		}
	})
	for _, path := range []string{"/section42/about", "/section42/hello-world", "/api/v1/res42/42/items/7", "/docs42/a/b/c", "/section42/h%C3%A9llo"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, ps, _ = table.Lookup(path, ps[:0])
			}
		})
	}
	// Baseline: a map holding the same paths, the floor for a static lookup.
	m := map[string]*Route{}
	for _, p := range paths {
		m[p], _, _ = table.Lookup(p, nil)
	}
	b.Run("baseline-map", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_ = m[paths[i%len(paths)]]
		}
	})
}

func FuzzBuild(f *testing.F) {
	f.Add(strings.Join(project, "\n"))
	for _, seed := range []string{
		"", "[[...all]]", "[...all]\n[id]\nx", "blog/[id]\nblog/[slug]", "a/[...x]\na/[[...y]]",
		"%5Fa\n%5fa", "[...a]/b", "x\n(g)/x", "a%2Fb\na/b", "[x]/[y]/z\n[x]/w/[...r]\n[x]/w",
		"files\nfiles/[[...p]]", "%zz\n[]\n[[x]]\na b", "caf%C3%A9\ncafé\n%FF",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dirs := strings.Split(s, "\n")
		table, err := Build(dirs)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Build error %T %v, want non-empty Errors", err, err)
			}
			for _, e := range errs {
				if len(e.Files) == 0 || e.Msg == "" {
					t.Fatalf("incomplete error %#v", e)
				}
			}
			return
		}
		for _, dir := range dirs {
			table.Lookup("/"+dir, nil) // must not panic
		}
		for _, r := range table.Routes() {
			segs, _, _ := parseDir(r.Dir)
			for _, empty := range []bool{false, true} {
				path, values := samplePath(segs, empty)
				got, ps, ok := table.Lookup(path, nil)
				if !ok {
					t.Fatalf("route %s (%s): Lookup(%q) matched nothing", r.Pattern, r.Dir, path)
				}
				if got != r {
					gotSegs, _, _ := parseDir(got.Dir)
					if !precedes(gotSegs, segs) {
						t.Fatalf("route %s: Lookup(%q) = %s, which does not take precedence", r.Pattern, path, got.Pattern)
					}
					continue
				}
				var gotValues [][]string
				for i, p := range ps {
					if p.Name != r.Params[i] {
						t.Fatalf("route %s: Lookup(%q) param %d named %q", r.Pattern, path, i, p.Name)
					}
					gotValues = append(gotValues, p.Values())
				}
				if diff := cmp.Diff(values, gotValues, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("route %s: Lookup(%q) values (-want +got):\n%s", r.Pattern, path, diff)
				}
			}
		}
	})
}

// samplePath returns a request path matching segs and its param values; empty
// optional catch-alls match nothing when empty is true.
func samplePath(segs []segment, empty bool) (string, [][]string) {
	var b strings.Builder
	var values [][]string
	for _, s := range segs {
		switch {
		case s.kind == static:
			b.WriteString("/" + escape(s.text))
		case s.kind == param:
			b.WriteString("/v")
			values = append(values, []string{"v"})
		case s.kind == optCatchAll && empty:
			values = append(values, nil)
		default:
			b.WriteString("/v/w%2F")
			values = append(values, []string{"v", "w/"})
		}
	}
	if b.Len() == 0 {
		return "/", values
	}
	return b.String(), values
}

// precedes reports whether a route a takes precedence over b: at the first
// segment where their kinds differ, a's kind comes first.
func precedes(a, b []segment) bool {
	for i := range min(len(a), len(b)) {
		if a[i].kind != b[i].kind {
			return a[i].kind < b[i].kind
		}
	}
	return false
}
