package jsbuild

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/evanw/esbuild/pkg/api"
)

// The platform's sources: index.js, dispatch.js, glue.js, env.js, stack.js,
// next/, wasmroute/ and web/.
//
//go:embed platform
var embedded embed.FS

// platformFS is what Platform bundles and the next/* modules are served
// from.
var platformFS fs.FS = embedded

// ns is the esbuild namespace of the files served from platformFS.
const ns = "wasmroute"

var platform struct {
	once sync.Once
	code string
	err  error
}

// Platform returns the platform script: platform/index.js and what it
// imports, bundled into one classic script (an IIFE) from the files embedded
// in this package. It is built once per process; Platform is safe for
// concurrent use.
//
// The script takes globalThis.__wasmroute_host, installs the Web globals
// and registers the engine's hooks (internal/jsengine/CONTRACT.md).
func Platform() (string, error) {
	platform.once.Do(func() {
		platform.code, platform.err = buildPlatform(platformFS)
	})
	return platform.code, platform.err
}

func buildPlatform(fsys fs.FS) (string, error) {
	res := api.Build(api.BuildOptions{
		EntryPoints: []string{"platform/index.js"},
		Write:       false,
		Bundle:      true,
		Format:      api.FormatIIFE,
		Platform:    api.PlatformNeutral,
		Target:      api.ES2023,
		KeepNames:   true, // function.name, and the names in stack traces
		// Minified: the engine keeps each function's source text in the heap
		// (for Function.prototype.toString), so the snapshot of every route
		// holds it, nested functions' text once per level. Names stay
		// (KeepNames); the route's own bundle is not minified.
		MinifySyntax:      true,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		LogLevel:          api.LogLevelSilent,
		Plugins: []api.Plugin{{
			Name: "wasmroute-platform",
			Setup: func(build api.PluginBuild) {
				build.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
					p := path.Clean(args.Path)
					if args.Kind != api.ResolveEntryPoint {
						if !strings.HasPrefix(args.Path, "./") && !strings.HasPrefix(args.Path, "../") {
							return api.OnResolveResult{}, fmt.Errorf("the platform imports only its own files, not %q", args.Path)
						}
						p = path.Join(path.Dir(args.Importer), args.Path)
					}
					if _, err := fs.Stat(fsys, p); err != nil {
						return api.OnResolveResult{}, fmt.Errorf("cannot resolve %q: %w", args.Path, err)
					}
					return api.OnResolveResult{Path: p, Namespace: ns}, nil
				})
				build.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: ns}, loader(fsys))
			},
		}},
	})
	if len(res.Errors) > 0 {
		return "", &BuildError{File: "platform/index.js", Messages: messages(res.Errors)}
	}
	if len(res.Warnings) > 0 { // the platform is ours: keep it clean
		return "", &BuildError{File: "platform/index.js", Messages: messages(res.Warnings)}
	}
	return string(res.OutputFiles[0].Contents), nil
}

// loader serves files of namespace ns from fsys.
func loader(fsys fs.FS) func(api.OnLoadArgs) (api.OnLoadResult, error) {
	return func(args api.OnLoadArgs) (api.OnLoadResult, error) {
		src, err := fs.ReadFile(fsys, args.Path)
		if err != nil {
			return api.OnLoadResult{}, err
		}
		s := string(src)
		return api.OnLoadResult{Contents: &s, Loader: api.LoaderJS}, nil
	}
}

// platformModules are the modules of the platform a route may import, and
// the files that serve them: next/* (Next.js's), wasmroute:* (wasmroute's
// services).
var platformModules = map[string]string{
	"next/cache":      "platform/next/cache.js",
	"next/server":     "platform/next/server.js",
	"next/headers":    "platform/next/headers.js",
	"next/navigation": "platform/next/navigation.js",
	"wasmroute:kv":    "platform/wasmroute/kv.js",
}

// Packages are looked up as an edge runtime does (Next.js's, Vercel's,
// Cloudflare's): Web APIs, no Node.js.
var (
	mainFields = []string{"edge-light", "worker", "browser", "module", "main"}
	conditions = []string{"edge-light", "worker", "browser", "module"}
)

// resolving marks build.Resolve calls made by the resolver itself.
type resolving struct{}

// resolver resolves a route's imports: next/* and wasmroute:* to the
// platform's modules, the rest as esbuild does, kept inside the project folder root, with messages
// that say what to do.
func resolver(root string) api.Plugin {
	return api.Plugin{
		Name: "wasmroute",
		Setup: func(build api.PluginBuild) {
			build.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(args api.OnResolveArgs) (api.OnResolveResult, error) {
				if _, ok := args.PluginData.(resolving); ok || args.Namespace == ns {
					return api.OnResolveResult{}, nil
				}
				p := args.Path
				if file, ok := platformModules[p]; ok {
					return api.OnResolveResult{Path: file, Namespace: ns}, nil
				}
				if p == "next" || strings.HasPrefix(p, "next/") {
					return api.OnResolveResult{}, fmt.Errorf("%q is not available: wasmroute provides next/server, next/headers, next/navigation and next/cache", p)
				}
				if strings.HasPrefix(p, "wasmroute:") {
					return api.OnResolveResult{}, fmt.Errorf("%q is not available: wasmroute provides wasmroute:kv", p)
				}
				if builtin, ok := strings.CutPrefix(p, "node:"); ok {
					return api.OnResolveResult{}, nodeBuiltin(builtin)
				}
				r := build.Resolve(p, api.ResolveOptions{
					Importer:   args.Importer,
					Namespace:  args.Namespace,
					ResolveDir: args.ResolveDir,
					Kind:       args.Kind,
					With:       args.With,
					PluginData: resolving{},
				})
				bare := !strings.HasPrefix(p, ".") && !strings.HasPrefix(p, "/")
				switch {
				case len(r.Errors) > 0 && bare && nodeBuiltins[pkgName(p)]:
					return api.OnResolveResult{}, nodeBuiltin(p)
				case len(r.Errors) > 0 && bare:
					return api.OnResolveResult{}, fmt.Errorf("cannot resolve %q: run npm install in %s, or remove the import", pkgName(p), root)
				case len(r.Errors) > 0:
					return api.OnResolveResult{Errors: r.Errors}, nil
				case r.Namespace == "file" && !inside(root, r.Path):
					if bare {
						return api.OnResolveResult{}, fmt.Errorf("cannot resolve %q: run npm install in %s, or remove the import (found only outside the project, at %s)", pkgName(p), root, r.Path)
					}
					return api.OnResolveResult{}, fmt.Errorf("%q is outside the project folder %s", p, root)
				}
				side := api.SideEffectsTrue
				if !r.SideEffects {
					side = api.SideEffectsFalse
				}
				return api.OnResolveResult{Path: r.Path, Namespace: r.Namespace, External: r.External, Suffix: r.Suffix, SideEffects: side, PluginData: r.PluginData}, nil
			})
			build.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: ns}, loader(platformFS))
		},
	}
}

func nodeBuiltin(name string) error {
	return fmt.Errorf("%q is a Node.js built-in module: wasmroute runs route handlers on Web APIs (fetch, Request, Response, crypto.subtle, TextEncoder …), as Next.js's edge runtime does", name)
}

// pkgName returns the package an import path names: "lodash" for
// "lodash/fp", "@scope/pkg" for "@scope/pkg/x".
func pkgName(p string) string {
	parts := strings.SplitN(p, "/", 3)
	if strings.HasPrefix(p, "@") && len(parts) > 1 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

// inside reports whether file is inside the folder root (both absolute and
// free of symlinks, as esbuild resolves them).
func inside(root, file string) bool {
	rel, err := filepath.Rel(root, file)
	return err == nil && filepath.IsLocal(rel)
}

// nodeBuiltins are Node.js's built-in modules. A bare import of one of them
// that node_modules does not hold (some, like "buffer" or "events", exist
// as npm packages too) is an error.
var nodeBuiltins = map[string]bool{}

func init() {
	for _, name := range strings.Fields(`assert async_hooks buffer child_process cluster console
		constants crypto dgram diagnostics_channel dns domain events fs http http2 https inspector
		module net os path perf_hooks process punycode querystring readline repl stream
		string_decoder sys timers tls trace_events tty url util v8 vm wasi worker_threads zlib`) {
		nodeBuiltins[name] = true
	}
}
