// Package cachedir bounds the size of wasmroute's cache folder (--cache-dir):
// wazero's compiled code, the JavaScript engine's snapshots and the
// bundles of route.ts files, all of which are rebuilt on a miss.
//
// Trim deletes the least recently used entries until the folder is under
// its bound. Several processes may share the folder (serve beside routes,
// replicas, tests): every writer writes a temporary file and renames it
// into place, so an entry is never seen half-written, and Trim never
// deletes a file changed in the last few minutes, which covers a temporary
// file being written and an entry just renamed into place. Deleting an
// entry another process has open is harmless where files are unlinked
// (that process reads on) and fails, ignored, where they are not; one that
// is gone is a cache miss, and is compiled again.
package cachedir

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// owned reports whether a subfolder of the cache folder is one of
// wasmroute's: only those are trimmed, so that a --cache-dir pointed at a
// folder holding anything else loses nothing else.
func owned(name string) bool {
	for _, prefix := range []string{"wazero-", "jsengine-v", "jsbuild-v"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// fresh is how long a file is left alone after it was last changed;
// freshTemp, how long before a temporary file counts as left over by a
// crash.
const (
	fresh     = 2 * time.Minute
	freshTemp = time.Hour
)

// Result says what Trim found and did.
type Result struct {
	Files   int   // entries found
	Size    int64 // their bytes, before
	Deleted int   // entries deleted
	Freed   int64 // their bytes
}

// Trim deletes the least recently used files of dir's wasmroute
// subfolders, oldest first, while their total is above max, down to three
// quarters of max (so that the next few compilations do not trim again).
// A file's last use is its access time where the system keeps one (Linux
// updates it at least daily under relatime), else its modification time.
// Temporary files left over by a crash are deleted whatever the size.
// max <= 0 or an empty dir: nothing is done. Another process trimming the
// same folder at the same time makes this one return at once.
func Trim(dir string, max int64) (Result, error) {
	var r Result
	if dir == "" || max <= 0 {
		return r, nil
	}
	unlock, ok, err := tryLock(dir)
	if err != nil || !ok {
		return r, err
	}
	defer unlock()
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var entries []entry
	now := time.Now()
	subs, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	} else if err != nil {
		return r, err
	}
	for _, sub := range subs {
		if !sub.IsDir() || !owned(sub.Name()) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, sub.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue // not a symlink, nor a folder: only files we wrote
			}
			info, err := f.Info()
			if err != nil {
				continue // deleted meanwhile
			}
			r.Files++
			r.Size += info.Size()
			path := filepath.Join(dir, sub.Name(), f.Name())
			age := now.Sub(info.ModTime())
			if temporary(f.Name()) && age >= freshTemp && os.Remove(path) == nil {
				r.Deleted++ // left over by a crash: never of use
				r.Freed += info.Size()
				continue
			}
			if age < fresh || temporary(f.Name()) {
				continue
			}
			entries = append(entries, entry{path, info.Size(), lastUse(info)})
		}
	}
	size, target := r.Size-r.Freed, max/4*3
	if size <= max {
		return r, nil
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Or(a.used.Compare(b.used), strings.Compare(a.path, b.path)) })
	for _, e := range entries {
		if size <= target {
			break
		}
		if err := os.Remove(e.path); err != nil {
			continue // gone already, or open elsewhere on a system that refuses
		}
		size -= e.size
		r.Deleted++
		r.Freed += e.size
	}
	return r, nil
}

// temporary reports a file being written, by its name: wazero's
// "<key>.<random>.tmp" and wasmroute's "tmp-<random>".
func temporary(name string) bool {
	return strings.HasSuffix(name, ".tmp") || strings.HasPrefix(name, "tmp-")
}

// lastUse is the later of info's access and modification times.
func lastUse(info fs.FileInfo) time.Time {
	if a := atime(info); a.After(info.ModTime()) {
		return a
	}
	return info.ModTime()
}
