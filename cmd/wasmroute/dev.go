package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/routes"
	"github.com/wasmroute/wasmroute/runtime"
)

// This file is what serve and dev share for reloading: the watcher of
// wasmroute dev, its builds, and what is printed and compiled after each
// load.

// printLive prints the route table of the version live serves now, and in
// dev the problems of the routes that answer 500.
func printLive(stdout, stderr io.Writer, live *runtime.Live, domain string) {
	live.Use(func(h http.Handler) {
		switch h := h.(type) {
		case *runtime.Server:
			printRoutes(stdout, h)
		case *runtime.Tenants:
			printTenants(stdout, h, domain, 0)
		}
	})
	printProblems(stderr, live)
}

// printTenants prints each tenant's routes; with workers > 0, the worker of
// serve --workers that serves it.
func printTenants(stdout io.Writer, t *runtime.Tenants, domain string, workers int) {
	for _, name := range t.Names() {
		fmt.Fprintf(stdout, "tenant %s (http://%s.%s)", name, name, domain)
		if workers > 0 {
			fmt.Fprintf(stdout, " on worker %d of %d", workerOf(name, workers), workers)
		}
		fmt.Fprintln(stdout)
		printRoutes(stdout, t.Server(name))
		fmt.Fprintln(stdout)
	}
}

// printProblems prints why each broken route of a dev server answers 500,
// or why the whole project does.
func printProblems(stderr io.Writer, live *runtime.Live) {
	live.Use(func(h http.Handler) {
		switch h := h.(type) {
		case *runtime.Server:
			for _, p := range h.Problems() {
				fmt.Fprintf(stderr, "error: %s\n", p)
			}
		case *runtime.Tenants:
		default: // a dev project that does not load as a whole
			if err, ok := h.(error); ok {
				fmt.Fprintf(stderr, "error: %v\n", err)
			}
		}
	})
}

// compileAll compiles the modules of the version live serves now, in the
// background, so that their first requests need not; with more routes than
// maxCompiled, each compiles on its first request instead.
func compileAll(ctx context.Context, live *runtime.Live, maxCompiled int, log *slog.Logger) {
	start := time.Now()
	live.Use(func(h http.Handler) {
		var servers []*runtime.Server
		switch h := h.(type) {
		case *runtime.Server:
			servers = append(servers, h)
		case *runtime.Tenants:
			for _, name := range h.Names() {
				servers = append(servers, h.Server(name))
			}
		}
		for _, srv := range servers {
			if ctx.Err() != nil {
				return // a newer version replaced this one
			}
			if n := len(srv.Routes()); maxCompiled > 0 && n > maxCompiled {
				log.Info("more routes than --max-compiled: each compiles on its first request", "routes", n, "maxCompiled", maxCompiled)
				continue
			}
			if err := srv.CompileAll(ctx); err != nil && ctx.Err() == nil {
				log.Error("modules that will answer 500", "err", err)
			}
		}
	})
	if ctx.Err() == nil {
		log.Info("compiled every module", "took", time.Since(start).Round(time.Millisecond))
	}
}

// devBuilds builds a dev project's Go routes and remembers which failed:
// such a route answers 500 with its compiler's output.
type devBuilds struct {
	dir    string
	mu     sync.Mutex
	failed map[string]string // by route folder
}

func (b *devBuilds) errors() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.failed)
}

// build builds the Go routes that changed may affect: a route folder's own
// .go files, that route; any other .go file, go.mod or go.sum, every Go
// route (the go command rebuilds only what is stale). changed nil: every
// Go route.
func (b *devBuilds) build(ctx context.Context, changed []string, stderr io.Writer) {
	folders, err := routes.Scan(b.dir)
	if err != nil && len(folders) == 0 {
		return // the reload reports it
	}
	goDirs := goRouteDirs(folders)
	dirs, shared := goDirs, true
	if changed != nil {
		dirs, shared = goToBuild(changed, goDirs)
	}
	// The middleware is built when it changed or, as a route is, when a
	// shared package may have.
	if hasMiddlewareGo(b.dir) && (shared || slices.Contains(changed, "middleware.go")) {
		start := time.Now()
		if err := build.Middleware(ctx, b.dir); err != nil {
			fmt.Fprintf(stderr, "error: %v\nthe previous middleware.wasm serves on\n", err)
		} else {
			fmt.Fprintf(stderr, "built middleware.go in %v\n", time.Since(start).Round(time.Millisecond))
		}
	}
	if len(dirs) == 0 {
		return
	}
	start := time.Now()
	err = buildRoutes(ctx, b.dir, dirs, stderr)
	failed := map[string]string{}
	var errs interface{ Unwrap() []error }
	if errors.As(err, &errs) {
		for _, e := range errs.Unwrap() {
			var be *build.Error
			if errors.As(e, &be) {
				dir := strings.TrimSuffix(strings.TrimPrefix(be.File, "app/"), "route.go")
				dir = strings.TrimSuffix(dir, "/")
				// The compiler names files relative to the folder.
				failed[dir] = strings.ReplaceAll(be.Error(), "\t./", "\t"+path.Dir(be.File)+"/")
			}
		}
	} else if err != nil { // no go command
		for _, d := range dirs {
			failed[d] = err.Error()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failed == nil {
		b.failed = map[string]string{}
	}
	for _, d := range dirs {
		delete(b.failed, d)
	}
	for d, msg := range failed {
		b.failed[d] = msg
	}
	for d := range b.failed {
		if !slices.Contains(goDirs, d) {
			delete(b.failed, d) // the folder has gone
		}
	}
	fmt.Fprintf(stderr, "built %d Go route(s) in %v, %d failed\n", len(dirs), time.Since(start).Round(time.Millisecond), len(failed))
}

// goToBuild returns the Go route folders that the changed files (slash
// paths relative to the project) may affect, and whether one of them is
// shared (a package routes import, go.mod, go.sum): then every Go route.
func goToBuild(changed, goDirs []string) (dirs []string, shared bool) {
	for _, c := range changed {
		base := path.Base(c)
		if !strings.HasSuffix(base, ".go") && base != "go.mod" && base != "go.sum" {
			continue
		}
		if dir, ok := strings.CutPrefix(path.Dir(c), "app"); ok && (dir == "" || dir[0] == '/') && strings.HasSuffix(base, ".go") {
			if dir = strings.TrimPrefix(dir, "/"); slices.Contains(goDirs, dir) {
				if !slices.Contains(dirs, dir) {
					dirs = append(dirs, dir)
				}
				continue
			}
		}
		if c != "middleware.go" {
			return goDirs, true // a shared package, or the module: any route may use it
		}
	}
	return dirs, false
}

// watcher reports the files that change under a project, in batches: a
// batch is sent once no change has come for quiet (editors write a file in
// several steps, a millisecond or two apart), or maxDelay after its first
// change. A save split over two batches costs one more reload, never the
// final state: the second batch reloads after the last step.
type watcher struct {
	root    string
	fw      *fsnotify.Watcher
	log     *slog.Logger
	changes chan []string
	done    chan struct{}
}

const (
	quiet    = 10 * time.Millisecond
	maxDelay = 150 * time.Millisecond
)

// watch watches every folder of root but those skipped, and folders as
// they appear.
func watch(root string, log *slog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{root: root, fw: fw, log: log, changes: make(chan []string), done: make(chan struct{})}
	if err := w.add(root); err != nil {
		fw.Close()
		return nil, err
	}
	go w.run()
	return w, nil
}

func (w *watcher) close() {
	w.fw.Close()
	<-w.done
}

// add watches dir and its subfolders.
func (w *watcher) add(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // gone already
		}
		if !d.IsDir() {
			return nil
		}
		if p != w.root && skip(d.Name()) {
			return filepath.SkipDir
		}
		if err := w.fw.Add(p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
}

// skip reports whether a file or folder of this name is not the project's
// source: hidden ones (.git, .wasmroute, an editor's .route.ts.swp),
// node_modules, and editors' backups and probes.
func skip(name string) bool {
	return strings.HasPrefix(name, ".") || name == "node_modules" || strings.HasSuffix(name, "~") ||
		strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".tmp") || name == "4913"
}

func (w *watcher) run() {
	defer close(w.done)
	var (
		pending []string
		first   time.Time
		timer   = time.NewTimer(time.Hour)
		out     chan []string // w.changes once a batch is ready
	)
	timer.Stop()
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			rel, err := filepath.Rel(w.root, ev.Name)
			if err != nil || w.ignored(rel) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					if err := w.add(ev.Name); err != nil {
						w.log.Warn("watching a new folder", "err", err)
					}
				}
			}
			if len(pending) == 0 && out == nil {
				first = time.Now()
			}
			if rel = filepath.ToSlash(rel); !slices.Contains(pending, rel) {
				pending = append(pending, rel)
			}
			timer.Reset(min(quiet, maxDelay-time.Since(first)))
		case <-timer.C:
			out = w.changes
		case out <- pending:
			pending, out = nil, nil
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			// An overflow loses events: reload everything.
			w.log.Warn("watching the project", "err", err)
			pending = append(pending, "go.mod")
			timer.Reset(quiet)
		}
	}
}

// ignored reports whether a change to rel (relative to the project) is not
// one to reload for: skipped names, and the route.wasm (middleware.wasm)
// that dev itself builds beside a route.go (middleware.go).
func (w *watcher) ignored(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if skip(part) {
			return true
		}
	}
	if rel == build.DepsFile { // wasmroute build's, read by go mod tidy alone
		return true
	}
	if base := filepath.Base(rel); base == "route.wasm" || rel == "middleware.wasm" {
		_, err := os.Stat(filepath.Join(w.root, strings.TrimSuffix(rel, ".wasm")+".go"))
		return err == nil
	}
	return false
}
