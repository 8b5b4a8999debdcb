package route_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

// paramPath runs ParamPath("p") in a handler whose route has the param p
// with values (none: a route without p when values is nil and missing).
func paramPath(t testing.TB, values []string, missing bool) (string, error) {
	req := routetest.NewRequest("GET", "/files", nil)
	if !missing {
		req.Params = []routetest.Param{{Name: "p", Values: values}}
	}
	type answer struct {
		path string
		err  error
	}
	var got answer
	res := routetest.Run(func(_ *route.Response, r *route.Request) {
		got.path, got.err = r.ParamPath("p")
	}, req)
	if res.Panic != nil {
		t.Fatalf("handler panicked: %v\n%s", res.Panic, res.Stack)
	}
	return got.path, got.err
}

// The host's decoded values for the attacks of the brief: what a guest gets
// from %2F, %2e%2e, %00, %ff and the rest, and what ParamPath makes of them.
func TestParamPath(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		missing bool
		want    string
		wantErr string // the error's text after "route: param is not a safe path: "
	}{
		{name: "segments", values: []string{"a", "b", "c.txt"}, want: "a/b/c.txt"},
		{name: "one segment ([x])", values: []string{"hello world"}, want: "hello world"},
		{name: "UTF-8", values: []string{"café", "résumé.txt"}, want: "café/résumé.txt"},
		{name: "dots inside a name", values: []string{"...", "a..b", ".hidden"}, want: ".../a..b/.hidden"},
		{name: "percent kept from %25", values: []string{"a%2Fb"}, want: "a%2Fb"},
		{name: "optional catch-all matched nothing", values: nil, want: "."},
		{name: "unknown param", missing: true, wantErr: `the route has no param "p"`},
		{name: "%2e%2e", values: []string{"..", "..", "etc", "passwd"}, wantErr: `param "p", segment 1 "..": a dot segment`},
		{name: "%2e", values: []string{"a", "."}, wantErr: `param "p", segment 2 ".": a dot segment`},
		{name: "%2F", values: []string{"a/b"}, wantErr: `param "p", segment 1 "a/b": holds a slash or backslash`},
		{name: "%2F%2e%2e", values: []string{"x", "../../etc"}, wantErr: `param "p", segment 2 "../../etc": holds a slash or backslash`},
		{name: "%2Fetc absolute", values: []string{"/etc"}, wantErr: `param "p", segment 1 "/etc": holds a slash or backslash`},
		{name: "%5C", values: []string{`..\..\x`}, wantErr: `param "p", segment 1 "..\\..\\x": holds a slash or backslash`},
		{name: "%00", values: []string{"a\x00.txt"}, wantErr: `param "p", segment 1 "a\x00.txt": holds NUL`},
		{name: "%ff", values: []string{"ok", "\xff"}, wantErr: `param "p", segment 2 "\xff": not valid UTF-8`},
		{name: "overlong dot %c0%ae", values: []string{"\xc0\xae\xc0\xae"}, wantErr: `param "p", segment 1 "\xc0\xae\xc0\xae": not valid UTF-8`},
		{name: "empty segment", values: []string{"a", "", "b"}, wantErr: `param "p", segment 2 "": empty`},
		{name: "one empty value ([x])", values: []string{""}, wantErr: `param "p", segment 1 "": empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := paramPath(t, tt.values, tt.missing)
			if tt.wantErr != "" {
				want := "route: param is not a safe path: " + tt.wantErr
				if err == nil || err.Error() != want || !errors.Is(err, route.ErrUnsafePath) || got != "" {
					t.Fatalf("ParamPath = %q, %v; want \"\" and %s (wrapping ErrUnsafePath)", got, err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParamPath = %q, %v; want %q", got, err, tt.want)
			}
			checkLocal(t, got)
		})
	}
}

// Param and ParamValues pass on what the host gives, unchecked.
func TestParamUnchecked(t *testing.T) {
	values := []string{"..", "a/b", "\x00", "\xff"}
	req := routetest.NewRequest("GET", "/files/%2e%2e/a%2Fb/%00/%ff", nil)
	req.Params = []routetest.Param{{Name: "p", Values: values}}
	var param string
	var got []string
	routetest.Run(func(_ *route.Response, r *route.Request) { param, got = r.Param("p"), r.ParamValues("p") }, req)
	if !slices.Equal(got, values) || param != "../a/b/\x00/\xff" {
		t.Errorf("ParamValues = %q, Param = %q; want %q and %q", got, param, values, "../a/b/\x00/\xff")
	}
}

// checkLocal checks that p cannot leave a folder it is joined to.
func checkLocal(t testing.TB, p string) {
	t.Helper()
	if !fs.ValidPath(p) {
		t.Errorf("%q: not fs.ValidPath", p)
	}
	if goruntime.GOOS != "windows" && !filepath.IsLocal(p) {
		t.Errorf("%q: not filepath.IsLocal", p)
	}
	root := filepath.FromSlash("/srv/files")
	if j := filepath.Join(root, p); j != root && !strings.HasPrefix(j, root+string(filepath.Separator)) {
		t.Errorf("filepath.Join(%q, %q) = %q, outside the root", root, p, j)
	}
}

// FuzzParamPath decodes an escaped catch-all as the host does (split at '/',
// each segment percent-decoded) and checks that ParamPath either refuses it
// or gives a local path whose elements are exactly the segments, and that it
// refuses only what is documented.
func FuzzParamPath(f *testing.F) {
	for _, s := range []string{"a/b", "%2e%2e/x", "a%2Fb", "%00", "%ff", "%5C..", ".%2e", "caf%C3%A9", "a//b", "", "%c0%ae"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		var segs []string
		if escaped != "" {
			for _, s := range strings.Split(escaped, "/") {
				d, err := url.PathUnescape(s)
				if err != nil {
					return
				}
				segs = append(segs, d)
			}
		}
		got, err := paramPath(t, segs, false)
		documented := slices.ContainsFunc(segs, func(s string) bool {
			return s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") || !utf8.ValidString(s)
		})
		switch {
		case err != nil && !errors.Is(err, route.ErrUnsafePath):
			t.Fatalf("%q: error %v does not wrap ErrUnsafePath", segs, err)
		case (err != nil) != documented:
			t.Fatalf("%q: ParamPath = %q, %v; want an error: %v", segs, got, err, documented)
		case err == nil && len(segs) == 0 && got != ".":
			t.Fatalf("no segments: ParamPath = %q, want \".\"", got)
		case err == nil && len(segs) > 0 && !slices.Equal(strings.Split(got, "/"), segs):
			t.Fatalf("%q: ParamPath = %q, whose elements differ", segs, got)
		}
		if err == nil {
			checkLocal(t, got)
		}
	})
}

func ExampleRequest_ParamPath() {
	// app/files/[...path]/route.go serving files under a root folder.
	files := func(w *route.Response, r *route.Request) {
		p, err := r.ParamPath("path")
		if err != nil {
			w.Text(404, err.Error())
			return
		}
		w.Text(200, filepath.Join("/srv/files", p))
	}
	for _, segments := range [][]string{{"docs", "intro.md"}, {"..", "..", "etc", "passwd"}, {"a/b"}} {
		req := routetest.NewRequest("GET", "/files", nil)
		req.Params = []routetest.Param{{Name: "path", Values: segments}}
		res := routetest.Run(files, req)
		fmt.Println(res.Status, string(res.Body))
	}
	// Output:
	// 200 /srv/files/docs/intro.md
	// 404 route: param is not a safe path: param "path", segment 1 "..": a dot segment
	// 404 route: param is not a safe path: param "path", segment 1 "a/b": holds a slash or backslash
}
