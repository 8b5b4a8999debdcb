package build

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestExternal(t *testing.T) {
	for p, want := range map[string]bool{
		"fmt":                               false,
		"net/http":                          false,
		"example.com/app":                   false,
		"example.com/app/internal/handlers": false,
		"example.com/application":           true,
		"github.com/google/go-cmp/cmp":      true,
		"golang.org/x/sys/unix":             true,
	} {
		if got := external(p, "example.com/app"); got != want {
			t.Errorf("external(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestIgnoreWarning(t *testing.T) {
	root := t.TempDir()
	gomod := filepath.Join(root, "go.mod")
	tests := []struct {
		project string
		ignore  []string
		dirs    []string
		warn    bool
	}{
		{"web", nil, []string{"blog/[slug]"}, true},
		{"web", []string{"./web/app"}, []string{"blog/[slug]"}, false},
		{"web", []string{"./web"}, []string{"(admin)/stats"}, false},
		{"web", []string{"app"}, []string{"blog/[slug]"}, false}, // any folder named app
		{"web", []string{"./other/app"}, []string{"blog/[slug]"}, true},
		{"web", []string{"./we"}, []string{"blog/[slug]"}, true}, // not a prefix by folder
		{"web", nil, []string{"api/hello"}, false},               // tidy reads these fine
		{"testdata/web", nil, []string{"blog/[slug]"}, false},    // go skips testdata
		{".", nil, []string{"blog/[slug]"}, true},
	}
	for _, tt := range tests {
		var mod goMod
		for _, p := range tt.ignore {
			mod.Ignore = append(mod.Ignore, struct{ Path string }{p})
		}
		w := ignoreWarning(filepath.Join(root, tt.project), gomod, &mod, tt.dirs)
		if (w != "") != tt.warn {
			t.Errorf("project %s, ignore %q, dirs %q: warning %q, want one: %v", tt.project, tt.ignore, tt.dirs, w, tt.warn)
		}
		if w != "" && !strings.Contains(w, "go mod edit -ignore=./"+filepath.ToSlash(filepath.Join(tt.project, "app"))) {
			t.Errorf("project %s: warning %q does not say what to run", tt.project, w)
		}
	}
}
