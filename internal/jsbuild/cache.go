package jsbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Cache keeps bundles on disk between runs, as wazero's compilation cache
// keeps compiled code: esbuild takes a few milliseconds per route, which
// is seconds for a project of a thousand routes. A bundle is reused while
// every file it was built from (Bundle.Inputs), the project's
// tsconfig.json, jsconfig.json and package.json, and the platform script
// are unchanged, byte for byte. A file added where resolution would now
// find it first (route.ts beside an imported route.js) is not noticed:
// clear the cache, or edit the importing file.
//
// A Cache is safe for concurrent use, also by several processes.
type Cache struct {
	dir string
}

// NewCache returns a cache in dir, created on first write.
func NewCache(dir string) *Cache { return &Cache{dir: filepath.Join(dir, "jsbuild-v1")} }

// projectFiles are read by esbuild for every route of a project.
var projectFiles = []string{"tsconfig.json", "jsconfig.json", "package.json"}

// entry is one cached bundle.
type cacheEntry struct {
	Platform string            // the platform script's SHA-256
	Inputs   map[string]string // every input's SHA-256, "" for one absent
	Bundle   *Bundle
}

var platformSum = sync.OnceValues(func() (string, error) {
	p, err := Platform()
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:]), err
})

// Build returns the cached bundle of file in the project folder dir, or
// calls build and keeps its bundle. A cache that cannot be read or written
// costs only the time of build.
func (c *Cache) Build(dir, file string, build func() (*Bundle, error)) (*Bundle, error) {
	psum, err := platformSum()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return build()
	}
	key := sha256.Sum256([]byte(abs + "\x00" + file))
	path := filepath.Join(c.dir, hex.EncodeToString(key[:])+".json")
	root, err := os.OpenRoot(dir) // inputs are read as the build read them: inside the project
	if err != nil {
		return build()
	}
	defer root.Close()
	if b, err := os.ReadFile(path); err == nil {
		var e cacheEntry
		if json.Unmarshal(b, &e) == nil && e.Bundle != nil && e.Platform == psum && e.Bundle.File == file && e.fresh(root) {
			return e.Bundle, nil
		}
	}
	b, err := build()
	if err != nil {
		return nil, err
	}
	e := cacheEntry{Platform: psum, Inputs: map[string]string{}, Bundle: b}
	for _, name := range append(slices.Clone(projectFiles), b.Inputs...) {
		if e.Inputs[name], err = fileSum(root, name); err != nil {
			return b, nil // unreadable now: not worth keeping
		}
	}
	if data, err := json.Marshal(e); err == nil && os.MkdirAll(c.dir, 0o755) == nil {
		tmp, err := os.CreateTemp(c.dir, "tmp-*")
		if err == nil {
			_, werr := tmp.Write(data)
			if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
				os.Remove(tmp.Name())
			}
		}
	}
	return b, nil
}

// fresh reports whether every input of e is as it was.
func (e *cacheEntry) fresh(root *os.Root) bool {
	for _, name := range projectFiles {
		if _, ok := e.Inputs[name]; !ok {
			return false
		}
	}
	for name, want := range e.Inputs {
		if got, err := fileSum(root, name); err != nil || got != want {
			return false
		}
	}
	return true
}

// fileSum returns the SHA-256 of a file in root, "" if it does not exist.
func fileSum(root *os.Root, name string) (string, error) {
	b, err := root.ReadFile(filepath.FromSlash(name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
