package routes

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeTree creates files under dir: a path ending in "/" is a folder, a
// value starting with "->" a symlink to the rest, anything else a file.
func writeTree(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for name, content := range tree {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(path, 0o755)
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(filepath.FromSlash(content[2:]), path)
		default:
			err = os.WriteFile(path, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestScan(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"route.wasm": "", "ext/route.wasm": ""})
	tests := []struct {
		name string
		tree map[string]string
		want []Folder
		errs []string // Error() of each *Error; "OUTSIDE" stands for the outside folder
	}{{
		name: "folders",
		tree: map[string]string{
			"app/route.wasm":                    "",
			"app/api/hello/route.go":            "",
			"app/blog/[slug]/route.wasm":        "",
			"app/blog/[slug]/route.go":          "",
			"app/(admin)/stats/route.wasm":      "",
			"app/%5Fwell/route.wasm":            "",
			"app/%5fwell/route.go":              "",
			"app/_lib/route.wasm":               "",
			"app/_lib/x/route.wasm":             "",
			"app/a/_private/route.go":           "",
			"app/empty/":                        "",
			"app/docs/README.md":                "",
			"app/docs/route.wasm/":              "", // a folder, not a file
			"app/deep/er/still/route.go":        "",
			"app/files/[[...path]]/route.wasm":  "",
			"lib/route.wasm":                    "", // outside app/
			"app/blog/[slug]/helper/route.txt":  "",
			"app/blog/[slug]/helper/Route.wasm": "",
		},
		want: []Folder{
			{Dir: "", Wasm: true},
			{Dir: "%5Fwell", Wasm: true},
			{Dir: "%5fwell", Go: true},
			{Dir: "(admin)/stats", Wasm: true},
			{Dir: "api/hello", Go: true},
			{Dir: "blog/[slug]", Wasm: true, Go: true},
			{Dir: "deep/er/still", Go: true},
			{Dir: "files/[[...path]]", Wasm: true},
		},
	}, {
		name: "javascript",
		tree: map[string]string{
			"app/route.ts":            "",
			"app/api/js/route.js":     "",
			"app/both/route.ts":       "",
			"app/both/route.js":       "",
			"app/mixed/route.go":      "",
			"app/mixed/route.ts":      "",
			"app/built/route.wasm":    "",
			"app/built/route.js":      "",
			"app/other/route.tsx":     "",
			"app/other/route.test.ts": "",
		},
		want: []Folder{
			{Dir: "", JS: "route.ts"},
			{Dir: "api/js", JS: "route.js"},
			{Dir: "both", JS: "route.ts"},
			{Dir: "built", Wasm: true, JS: "route.js"},
			{Dir: "mixed", Go: true, JS: "route.ts"},
		},
		errs: []string{
			"app/both/route.js, app/both/route.ts: two route sources in one folder: keep one",
			"app/built/route.js, app/built/route.wasm: two route sources in one folder: keep one",
			"app/mixed/route.go, app/mixed/route.ts: two route sources in one folder: keep one",
		},
	}, {
		name: "symlinks inside",
		tree: map[string]string{
			"app/route.wasm":       "",
			"app/alias":            "->../shared",
			"shared/route.wasm":    "",
			"shared/x/route.go":    "",
			"app/file/route.wasm":  "->../../wasm/a.wasm",
			"wasm/a.wasm":          "",
			"app/loop/route.go":    "",
			"app/loop/again":       "->.",
			"app/_hidden":          "->" + outside,
			"app/blog/[slug]/link": "->../../alias",
		},
		want: []Folder{
			{Dir: "", Wasm: true},
			{Dir: "alias", Wasm: true},
			{Dir: "alias/x", Go: true},
			{Dir: "blog/[slug]/link", Wasm: true},
			{Dir: "blog/[slug]/link/x", Go: true},
			{Dir: "file", Wasm: true},
			{Dir: "loop", Go: true},
			{Dir: "loop/again", Go: true},
		},
	}, {
		name: "symlinks outside",
		tree: map[string]string{
			"app/route.wasm":      "",
			"app/ext":             "->" + outside + "/ext",
			"app/x/route.wasm":    "->" + outside + "/route.wasm",
			"app/up":              "->../..",
			"app/broken/route.go": "->nowhere",
		},
		want: []Folder{{Dir: "", Wasm: true}},
		errs: []string{
			"app/broken/route.go: broken symlink: lstat ROOT/app/broken/nowhere: no such file or directory",
			"app/ext: symlink resolves outside the project (to OUTSIDE/ext); not followed",
			"app/up: symlink resolves outside the project (to ROOT/..); not followed",
			"app/x/route.wasm: symlink resolves outside the project (to OUTSIDE/route.wasm); not followed",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.tree)
			got, err := Scan(root)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scan folders (-want +got):\n%s", diff)
			}
			var gotErrs []string
			if err != nil {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("Scan error %T %v, want Errors", err, err)
				}
				for _, e := range errs {
					gotErrs = append(gotErrs, e.Error())
				}
			}
			var wantErrs []string
			for _, e := range tt.errs {
				e = strings.ReplaceAll(e, "OUTSIDE", outside)
				e = strings.ReplaceAll(e, "ROOT/..", filepath.Dir(root))
				wantErrs = append(wantErrs, strings.ReplaceAll(e, "ROOT", root))
			}
			if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
				t.Errorf("Scan errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanNoApp(t *testing.T) {
	tests := []struct {
		name     string
		tree     map[string]string
		want     string
		notExist bool
	}{
		{"missing", map[string]string{"src/": ""}, "no app folder in ROOT: lstat ROOT/app: no such file or directory", true},
		{"file", map[string]string{"app": "x"}, "no app folder in ROOT: ROOT/app is not a folder", false},
		{"outside", map[string]string{"app": "->/"}, "no app folder in ROOT: app: symlink resolves outside the project (to /); not followed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.tree)
			folders, err := Scan(root)
			if err == nil {
				t.Fatalf("Scan = %v, nil; want an error", folders)
			}
			if diff := cmp.Diff(strings.ReplaceAll(tt.want, "ROOT", root), err.Error()); diff != "" {
				t.Errorf("Scan error (-want +got):\n%s", diff)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.notExist)
			}
		})
	}
}

// TestScanBuild checks that Scan's folders feed Build.
func TestScanBuild(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"app/route.wasm":            "",
		"app/blog/[slug]/route.go":  "",
		"app/_lib/[bad/route.wasm":  "",
		"app/(g)/%5Fwell/route.go":  "",
		"app/blog/new/route.wasm":   "",
		"app/blog/new/notes/readme": "",
		"app/blog/link":             "->" + root + "/lib",
		"lib/route.go":              "",
	})
	t.Chdir(root)
	folders, err := Scan(".") // a relative root
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, f := range folders {
		dirs = append(dirs, f.Dir)
	}
	table, err := Build(dirs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range table.Routes() {
		got = append(got, r.Pattern)
	}
	want := []string{"/", "/_well", "/blog/[slug]", "/blog/link", "/blog/new"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patterns (-want +got):\n%s", diff)
	}
}
