package routes

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Folder is a route folder found by Scan. It is a plain value, safe for
// concurrent reads.
type Folder struct {
	// Dir is the folder relative to app/, slash-separated, such as
	// "blog/[slug]" or "(admin)/stats"; "" is app/ itself.
	Dir string
	// Wasm is true when the folder holds a route.wasm file.
	Wasm bool
	// Go is true when the folder holds a route.go file.
	Go bool
	// JS names the folder's JavaScript or TypeScript route source,
	// "route.ts" or "route.js", or is empty. Scan reports a folder with both.
	JS string
}

// maxFolders bounds the folders Scan visits, so that symlinks pointing back
// up the tree cannot make it run for ever.
const maxFolders = 100_000

// Scan walks root/app and returns its route folders, sorted by Dir: every
// folder holding a file named route.wasm, route.go, route.ts or route.js.
// Private folders (whose
// name starts with "_"; "%5F" is an escaped underscore, not private) and
// everything under them are skipped.
//
// A symlink is followed when it resolves inside root, at most once on any
// path so that loops end; a symlink that resolves outside root or does not
// resolve is not followed and is reported as an *Error naming it, in an
// Errors value returned together with the folders found. A missing app
// folder is an error naming it. Scan is safe for concurrent use.
func Scan(root string) ([]Folder, error) {
	var s scanner
	var real string
	abs, err := filepath.Abs(root)
	if err == nil {
		s.root, err = filepath.EvalSymlinks(abs)
	}
	if err == nil {
		real, err = s.resolve(filepath.Join(abs, "app"), "app")
	}
	if err == nil {
		var fi fs.FileInfo
		if fi, err = os.Stat(real); err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a folder", filepath.Join(root, "app"))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("no app folder in %s: %w", root, err)
	}
	if err := s.walk(real, "", nil); err != nil {
		return nil, err
	}
	slices.SortFunc(s.folders, func(a, b Folder) int { return cmp.Compare(a.Dir, b.Dir) })
	if len(s.errs) > 0 {
		s.errs.sort()
		return s.folders, s.errs
	}
	return s.folders, nil
}

type scanner struct {
	root    string // with symlinks resolved
	folders []Folder
	errs    Errors
	visited int
}

// walk scans the folder at path (symlinks resolved), which is rel under app/;
// links are the symlinks followed to get there.
func (s *scanner) walk(path, rel string, links []string) error {
	if s.visited++; s.visited > maxFolders {
		return fmt.Errorf("more than %d folders under app/ (symlink loop?)", maxFolders)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	f := Folder{Dir: rel}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "_") {
			continue
		}
		child, childRel, typ := filepath.Join(path, name), name, e.Type()
		if rel != "" {
			childRel = rel + "/" + name
		}
		childLinks := links
		if typ&fs.ModeSymlink != 0 {
			if slices.Contains(links, child) {
				continue // followed already on this path: a loop
			}
			real, err := s.resolve(child, "app/"+childRel)
			if err != nil {
				continue
			}
			fi, err := os.Stat(real)
			if err != nil {
				return err
			}
			childLinks = append(links[:len(links):len(links)], child)
			child, typ = real, fi.Mode().Type()
		}
		switch {
		case typ.IsDir():
			if err := s.walk(child, childRel, childLinks); err != nil {
				return err
			}
		case !typ.IsRegular():
		case name == "route.wasm":
			f.Wasm = true
		case name == "route.go":
			f.Go = true
		case name == "route.ts" || name == "route.js":
			if f.JS != "" {
				s.errs = append(s.errs, newError([]string{"app/" + joinRel(rel, "route.js"), "app/" + joinRel(rel, "route.ts")},
					"two route sources in one folder: keep one"))
			}
			f.JS = name
		}
	}
	if f.JS != "" && (f.Wasm || f.Go) {
		other := "route.go"
		if !f.Go {
			other = "route.wasm"
		}
		s.errs = append(s.errs, newError([]string{"app/" + joinRel(rel, other), "app/" + joinRel(rel, f.JS)},
			"two route sources in one folder: keep one"))
	}
	if f.Wasm || f.Go || f.JS != "" {
		s.folders = append(s.folders, f)
	}
	return nil
}

// resolve returns path with symlinks resolved. A symlink that does not
// resolve, or resolves outside the project, is recorded as an *Error naming
// file and returned as such.
func (s *scanner) resolve(path, file string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if _, lerr := os.Lstat(path); lerr != nil {
			return "", err // missing, not a broken link
		}
		e := newError([]string{file}, fmt.Sprintf("broken symlink: %v", err))
		s.errs = append(s.errs, e)
		return "", e
	}
	if rel, err := filepath.Rel(s.root, real); err != nil || !filepath.IsLocal(rel) {
		e := newError([]string{file}, fmt.Sprintf("symlink resolves outside the project (to %s); not followed", real))
		s.errs = append(s.errs, e)
		return "", e
	}
	return real, nil
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}
