package jsbuild

import (
	"fmt"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"
)

// TestMain builds the platform with testdata/webstub.js in place of
// platform/web/index.js when the Web platform is not in the tree.
func TestMain(m *testing.M) {
	if _, err := fs.Stat(embedded, "platform/web/index.js"); err != nil {
		stub, err := os.ReadFile("testdata/webstub.js")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		files := fstest.MapFS{"platform/web/index.js": {Data: stub}}
		err = fs.WalkDir(embedded, "platform", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(embedded, p)
			files[p] = &fstest.MapFile{Data: data}
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		platformFS = files
	}
	os.Exit(m.Run())
}
