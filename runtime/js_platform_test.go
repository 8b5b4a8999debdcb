package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSPlatform runs the Web platform's own tests
// (internal/jsbuild/platform/web/testdata/*.test.js) in the engine, one
// route per test file, as route code sees the platform.
func TestJSPlatform(t *testing.T) {
	testdata := filepath.Join("..", "internal", "jsbuild", "platform", "web", "testdata")
	files, err := filepath.Glob(filepath.Join(testdata, "*.test.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no platform tests in %s: %v", testdata, err)
	}
	harness, err := os.ReadFile(filepath.Join(testdata, "harness.js"))
	if err != nil {
		t.Fatal(err)
	}
	project := map[string]string{
		"lib/harness.js": string(harness),
		"lib/setup.js":   `globalThis.__web = globalThis[Symbol.for("wasmroute.web")]` + "\n",
	}
	var names []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".test.js")
		names = append(names, name)
		project["lib/"+name+".test.js"] = string(src)
		project["app/"+name+"/route.ts"] = `import '../../lib/setup.js'
import '../../lib/harness.js'
import '../../lib/` + name + `.test.js'
export async function GET() { return Response.json(await (globalThis as any).runTests()) }
`
	}
	ts, logs := jsServe(t, jsProject(t, project), Config{})
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			a := jsDo(t, noRedirect, "GET", ts.URL+"/"+name, nil, nil)
			var r struct{ Passed, Failed int }
			if err := json.Unmarshal([]byte(a.Body), &r); a.Status != 200 || err != nil {
				t.Fatalf("got %d %q (%v)", a.Status, a.Body, err)
			}
			if r.Failed > 0 || r.Passed == 0 {
				t.Errorf("%d passed, %d failed; the log:\n%s", r.Passed, r.Failed, logs)
			}
		})
	}
}
