// Package build compiles Go route sources (app/**/route.go) to WebAssembly
// route modules (route.wasm beside them) with the standard Go toolchain.
//
// A route folder is built by file list — every non-test .go file in the
// folder — because the go command refuses package paths with '[' or '('.
// The go command itself decides what is stale: rebuilding an up-to-date
// route.wasm costs a few tens of milliseconds and leaves it as it was. A
// build writes no file through a symlink (files.go).
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Progress is told about each folder as its build ends. done counts the
// folders finished so far, out of total. It is called from one goroutine at
// a time.
type Progress func(done, total int, dir string)

// Error is the failure of one folder's build, with the compiler's output.
type Error struct {
	File   string // e.g. "app/blog/[slug]/route.go", relative to the project
	Output string
	Err    error
}

func (e *Error) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	msg := fmt.Sprintf("%s: build failed:\n%s", e.File, indent(out))
	if strings.Contains(out, "no required module provides package") || strings.Contains(out, "cannot find module providing package") || strings.Contains(out, "missing go.sum entry") {
		msg += "\n\trun go mod tidy: " + DepsFile + " shows it the routes' imports"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Go builds app/<dir>/route.go into app/<dir>/route.wasm under root for each
// dir (slash-separated, relative to app/), one build per core at a time. It
// returns every failure, joined with errors.Join, each an *Error.
func Go(ctx context.Context, root string, dirs []string, progress Progress) error {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building route.go sources needs the go command on PATH: %w", err)
	}
	var (
		mu   sync.Mutex
		errs []error
		done int
		wg   sync.WaitGroup
		sem  = make(chan struct{}, min(runtime.GOMAXPROCS(0), runtime.NumCPU()))
	)
	for _, dir := range dirs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := one(ctx, gocmd, root, dir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			done++
			if progress != nil {
				progress(done, len(dirs), dir)
			}
		}()
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// Middleware builds the project's middleware.go, at root, into
// middleware.wasm beside it. It is built alone, by file list: the project's
// root is no package (put its helpers in a package it imports). The error
// is an *Error.
func Middleware(ctx context.Context, root string) error {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building middleware.go needs the go command on PATH: %w", err)
	}
	return run(ctx, gocmd, root, "middleware.go", []string{"middleware.go"}, "middleware.wasm")
}

func one(ctx context.Context, gocmd, root, dir string) error {
	abs := filepath.Join(root, "app", filepath.FromSlash(dir))
	file := filepath.ToSlash(filepath.Join("app", filepath.FromSlash(dir), "route.go"))
	srcs, err := sources(abs)
	if err != nil {
		return &Error{File: file, Err: err}
	}
	return run(ctx, gocmd, abs, file, srcs, "route.wasm")
}

// run builds srcs, in the folder abs, into out there; file names the main
// source in errors.
//
// The go command writes a temporary file, which then replaces out, and
// only if out is a regular file or none: it would write through a symlink
// (see files.go). The temporary file starts as a copy of out, so that the
// go command finds an up-to-date module up to date (it compares the build
// ID inside) and links nothing; out is then left as it was.
func run(ctx context.Context, gocmd, abs, file string, srcs []string, out string) error {
	unlock, err := lock(abs)
	if err != nil {
		return &Error{File: file, Err: err}
	}
	defer unlock()
	outFile := path.Join(path.Dir(file), out) // in messages
	dir, err := os.OpenRoot(abs)
	if err != nil {
		return &Error{File: file, Err: err}
	}
	defer dir.Close()
	had, err := regularOrNone(dir, out)
	if err != nil {
		return &Error{File: file, Err: fmt.Errorf("%s: %w", outFile, err)}
	}
	tmp, err := tempCopy(dir, out, had)
	if err != nil {
		return &Error{File: file, Err: fmt.Errorf("%s: %w", outFile, err)}
	}
	defer dir.Remove(tmp) // unless renamed
	args := append([]string{"build", "-buildmode=c-shared", "-o", tmp}, srcs...)
	cmd := exec.CommandContext(ctx, gocmd, args...)
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return &Error{File: file, Output: strings.ReplaceAll(output.String(), tmp, out), Err: err}
	}
	if err := replace(dir, tmp, out, had); err != nil {
		return &Error{File: file, Err: fmt.Errorf("%s: %w", outFile, err)}
	}
	return nil
}

// tempCopy creates the temporary file of out in dir, a copy of out if it
// had one.
func tempCopy(dir *os.Root, out string, had bool) (string, error) {
	tmp, f, err := createTemp(dir, out)
	if err != nil {
		return "", err
	}
	if had {
		var src *os.File
		if src, err = dir.Open(out); err == nil {
			_, err = io.Copy(f, src)
			src.Close()
		}
	}
	if err := errors.Join(err, f.Close()); err != nil {
		dir.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// replace renames tmp over out, unless out holds the same bytes: a module
// the go command found up to date is not rewritten.
func replace(dir *os.Root, tmp, out string, had bool) error {
	regular, err := regularOrNone(dir, out)
	if err != nil {
		return err
	}
	if had && regular {
		if same, err := sameContent(dir, tmp, out); err != nil || same {
			return err
		}
	}
	return dir.Rename(tmp, out)
}

// sources lists the folder's non-test .go files, route.go first.
func sources(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	srcs := []string{"route.go"}
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") && n != "route.go" {
			srcs = append(srcs, n)
		}
	}
	return srcs, nil
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}
