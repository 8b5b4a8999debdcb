// Package digest names a project folder by its content, so that a deploy
// can say which version of an app every replica serves: wasmroute build
// prints the digest, wasmroute serve logs it when it starts, and two
// folders with the same files have the same digest on any machine, in any
// order their files were written.
//
// The digest is "sha256:" and the hex SHA-256 of a canonical listing of the
// folder: one entry per file, sorted by path (bytes, not locale), each
//
//	KIND SP HEX SP PATH NUL
//
// where PATH is the file's path under the folder, slash-separated; HEX is
// the hex SHA-256 of its content; and KIND is "file", "exec" (a file whose
// owner may execute it: the one mode bit git keeps too, so that a checkout
// and a copy agree whatever their umask), "link" (a symlink the server
// does not follow, because it leaves the folder, dangles or loops: HEX
// hashes its target's text, nothing outside is read) or "other" (a pipe,
// socket or device: HEX hashes nothing, and nothing is opened). Folders
// are not entries: an empty one changes nothing the server reads.
//
// Left out: every file or folder whose name starts with "." (.wasmroute/
// with the embedded key-value store, .git, editor files, tool caches),
// which the server does not read, and node_modules, which it does (a
// route.ts's packages are bundled when it loads) but which is what the
// lockfile beside it pins: package-lock.json is in the listing, while
// node_modules differs between machines with the same lockfile (a
// package's native binary per platform) and may hold a hundred thousand
// files. Symlinks that resolve inside the folder are followed, as the
// server follows them, so a folder mounted through links (a Kubernetes
// ConfigMap's ..data) has the digest of the same files copied.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// maxEntries bounds the files and folders Project visits, so that a hostile
// tree cannot grow the listing without bound; maxBytes bounds what it
// hashes, so that links to one large file cannot make it read it again and
// again.
var (
	maxEntries       = 1_000_000
	maxBytes   int64 = 4 << 30
)

// Entry is one line of the canonical listing. It is a plain value, safe for
// concurrent reads.
type Entry struct {
	Kind string // "file", "exec", "link" or "other"
	Hash string // hex SHA-256 of the content (of a link: of its target)
	Path string // slash-separated, relative to the folder
}

// Project returns the digest of the project folder dir, such as
// "sha256:3b1f…". Its errors name the file that could not be read. It is
// safe for concurrent use.
func Project(dir string) (string, error) {
	entries, err := List(dir)
	if err != nil {
		return "", err
	}
	return Sum(entries), nil
}

// Sum returns the digest of a listing sorted by path, as List returns it.
func Sum(entries []Entry) string {
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%s %s %s\x00", e.Kind, e.Hash, e.Path)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// List returns the canonical listing of dir, sorted by path. Every file is
// read through an os.Root opened on dir, so nothing outside dir is read,
// whatever its links say. It is safe for concurrent use.
func List(dir string) ([]Entry, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	defer root.Close()
	top, err := root.Stat(".")
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	l := lister{root: root, dir: dir, walked: map[fileID]bool{}}
	if id, ok := idOf(top); ok {
		l.walked[id] = true
	}
	if err := l.walk(".", []os.FileInfo{top}); err != nil {
		return nil, err
	}
	slices.SortFunc(l.entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return l.entries, nil
}

type lister struct {
	root    *os.Root
	dir     string
	entries []Entry
	visited int
	hashed  int64           // bytes read
	walked  map[fileID]bool // the folders walked (where the system names them: idOf)
}

// skipped reports whether the server never reads a file or folder so named.
func skipped(name string) bool {
	return strings.HasPrefix(name, ".") || name == "node_modules"
}

// walk lists the folder rel, whose ancestors (itself last, links followed)
// are up: a link back to one of them is a loop, listed and not followed.
func (l *lister) walk(rel string, up []os.FileInfo) error {
	f, err := l.root.Open(rel)
	if err != nil {
		return l.fail(rel, err)
	}
	des, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return l.fail(rel, err)
	}
	for _, de := range des {
		if skipped(de.Name()) {
			continue
		}
		if l.visited++; l.visited > maxEntries {
			return fmt.Errorf("digest: more than %d files and folders in %s", maxEntries, l.dir)
		}
		p := path.Join(rel, de.Name())
		typ := de.Type()
		if typ&fs.ModeSymlink != 0 {
			// A link to a folder is followed the first time the folder is
			// reached, and listed as a link after: links that fan out (six
			// in each of seven folders: 6^7 paths) cost a walk of what is
			// there, not of every path to it; a link back to an ancestor
			// is a loop, listed too.
			fi, err := l.root.Stat(p) // follows links inside dir only
			if err != nil || (fi.IsDir() && (l.seen(fi) || slices.ContainsFunc(up, func(a os.FileInfo) bool { return os.SameFile(a, fi) }))) {
				if err := l.link(p); err != nil {
					return err
				}
				continue
			}
			if fi.IsDir() {
				if err := l.walk(p, append(up[:len(up):len(up)], fi)); err != nil {
					return err
				}
				continue
			}
			typ = fi.Mode().Type()
		}
		switch {
		case typ.IsDir():
			fi, err := de.Info()
			if err != nil {
				return l.fail(p, err)
			}
			l.seen(fi)
			if err := l.walk(p, append(up[:len(up):len(up)], fi)); err != nil {
				return err
			}
		case typ.IsRegular():
			if err := l.file(p); err != nil {
				return err
			}
		default:
			l.add("other", sha256.New(), p)
		}
	}
	return nil
}

// file lists the regular file rel with the hash of its content.
func (l *lister) file(rel string) error {
	f, err := l.root.Open(rel)
	if err != nil {
		return l.fail(rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return l.fail(rel, err)
	}
	h := sha256.New()
	if !fi.Mode().IsRegular() { // replaced since its folder was read
		l.add("other", h, rel)
		return nil
	}
	if l.hashed += fi.Size(); l.hashed > maxBytes {
		return fmt.Errorf("digest: more than %d bytes of files in %s", maxBytes, l.dir)
	}
	if _, err := io.Copy(h, io.LimitReader(f, fi.Size())); err != nil {
		return l.fail(rel, err)
	}
	kind := "file"
	if fi.Mode().Perm()&0o100 != 0 {
		kind = "exec"
	}
	l.add(kind, h, rel)
	return nil
}

// link lists the symlink rel, not followed, by its target's text.
func (l *lister) link(rel string) error {
	target, err := l.root.Readlink(rel)
	if err != nil {
		return l.fail(rel, err)
	}
	h := sha256.New()
	h.Write([]byte(target))
	l.add("link", h, rel)
	return nil
}

// seen records the folder fi as walked, and reports whether it was before.
func (l *lister) seen(fi os.FileInfo) bool {
	id, ok := idOf(fi)
	if !ok {
		return false
	}
	if l.walked[id] {
		return true
	}
	l.walked[id] = true
	return false
}

func (l *lister) add(kind string, h hash.Hash, rel string) {
	l.entries = append(l.entries, Entry{Kind: kind, Hash: hex.EncodeToString(h.Sum(nil)), Path: rel})
}

func (l *lister) fail(rel string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("digest: %s: %w", filepath.Join(l.dir, filepath.FromSlash(rel)), err)
}
