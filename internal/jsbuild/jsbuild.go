// Package jsbuild bundles Next.js route handlers written in TypeScript or
// JavaScript (app/**/route.ts, route.js) for the JavaScript engine
// (internal/jsengine), with esbuild's Go API, in process.
//
// An engine instance evaluates two scripts (internal/jsengine/CONTRACT.md):
//
//   - the platform ([Platform]), the same for every route: the Web globals
//     (platform/web, fetch included), process.env (platform/env.js), the
//     dispatcher that serves a request with the route's handlers
//     (platform/dispatch.js), the next/* modules and wasmroute:kv, bundled
//     from the files embedded in this package into one classic script;
//   - the route's bundle ([Build]), an ES module holding the route file and
//     everything it imports: the project's modules and its node_modules.
//     Its imports of next/server, next/headers, next/navigation,
//     next/cache and wasmroute:kv are small modules that take their values from the
//     platform.
//
// [PlatformInput] and [Bundle.RouteInput] lay both out as the engine's init
// input.
//
//	b, err := jsbuild.Build(dir, "app/blog/[slug]/route.ts")
//	if err != nil {
//		return err // one line per problem, as file:line:col: text
//	}
//	for _, w := range b.Warnings {
//		log.Print(w)
//	}
//	input := b.RouteInput() // the engine's stdin for wasmroute_load
package jsbuild

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/wasmroute/wasmroute/abi"
)

// Bundle is a route built for the engine. It is immutable once Build returns
// it and safe for concurrent use.
type Bundle struct {
	// File is the route file, slash-separated, relative to the project
	// folder: "app/blog/[slug]/route.ts".
	File string
	// Code is the route's bundle, an ES module.
	Code []byte
	// SourceMap is Code's source map (version 3), its sources relative to
	// the project folder.
	SourceMap []byte
	// Methods are the HTTP methods the route exports, in abi.Methods order.
	Methods []string
	// Exports are every name the route exports, sorted, "default" included.
	Exports []string
	// Config is the route's segment config.
	Config SegmentConfig
	// Warnings are esbuild's warnings and the exports that look like
	// handlers but are not served ("get", "default"), as file:line:col: text.
	Warnings []string
	// Inputs are the project's files the bundle was built from,
	// slash-separated, relative to the project folder (Cache checks them).
	Inputs []string
}

// BuildError is a failed build: every problem esbuild or the segment config
// reader found.
type BuildError struct {
	File     string   // the route file, as given to Build
	Messages []string // each as "file:line:col: text", file relative to the project
}

func (e *BuildError) Error() string {
	return e.File + ": build failed:\n\t" + strings.Join(e.Messages, "\n\t")
}

// Build bundles the route file file (slash-separated, relative to the
// project folder dir, e.g. "app/blog/[slug]/route.ts") for the engine.
// Build is safe for concurrent use.
//
// The bundle holds the route and every module it imports: relative imports,
// tsconfig.json "paths", and packages from dir's node_modules. "next/server",
// "next/headers", "next/navigation" and "next/cache" are always wasmroute's own, even when
// node_modules/next exists, and so is "wasmroute:kv"; other next/* and
// wasmroute:* modules, Node.js built-ins and files outside dir are errors. TypeScript types are stripped; syntax newer
// than ES2023 is lowered; top-level await is kept.
//
// A failed build returns a *BuildError.
func Build(dir, file string) (*Bundle, error) {
	if !filepath.IsLocal(filepath.FromSlash(file)) || path.Clean(file) != file {
		return nil, fmt.Errorf("jsbuild: route file %q is not a clean path inside the project", file)
	}
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return nil, fmt.Errorf("jsbuild: project folder: %w", err)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(file))); err != nil {
		return nil, fmt.Errorf("jsbuild: %w", err)
	}

	b := &Bundle{File: file}
	contents := entry(file, catchAlls(path.Dir(file)))
	if IsMiddleware(file) {
		contents = middlewareEntry(file)
	}
	res := api.Build(api.BuildOptions{
		Stdin: &api.StdinOptions{
			Contents:   contents,
			ResolveDir: root,
			Sourcefile: "wasmroute:entry",
			Loader:     api.LoaderJS,
		},
		AbsWorkingDir:  root,
		Outfile:        filepath.Join(root, "route.bundle.js"), // never written: sources are relative to root
		Write:          false,
		Bundle:         true,
		Format:         api.FormatESModule,
		Platform:       api.PlatformNeutral,
		Target:         api.ES2023,
		KeepNames:      true, // function.name, and the names in stack traces
		MainFields:     mainFields,
		Conditions:     conditions,
		Sourcemap:      api.SourceMapExternal,
		SourcesContent: api.SourcesContentExclude,
		Metafile:       true,
		LogLevel:       api.LogLevelSilent,
		Plugins:        []api.Plugin{resolver(root)},
	})
	b.Warnings = messages(res.Warnings)
	if len(res.Errors) > 0 {
		return nil, &BuildError{File: file, Messages: messages(res.Errors)}
	}
	for _, f := range res.OutputFiles {
		if strings.HasSuffix(f.Path, ".map") {
			b.SourceMap = f.Contents
		} else {
			b.Code = f.Contents
		}
	}
	exports, inputs, err := readMetafile(res.Metafile)
	if err != nil {
		return nil, err
	}
	b.Inputs = inputs
	exports, config, errs := scanRoute(root, file, exports)
	if len(errs) > 0 {
		return nil, &BuildError{File: file, Messages: errs}
	}
	slices.Sort(exports)
	b.Exports, b.Config = slices.Compact(exports), config
	if IsMiddleware(file) {
		if name := middlewareName(file); !slices.Contains(b.Exports, name) && !slices.Contains(b.Exports, "default") {
			return nil, &BuildError{File: file, Messages: []string{fmt.Sprintf("%s: exports no %s function (export function %s(request) { … }, or a default export)", file, name, name)}}
		}
		return b, nil
	}
	for _, m := range abi.Methods {
		if slices.Contains(b.Exports, m) {
			b.Methods = append(b.Methods, m)
		}
	}
	for _, name := range b.Exports {
		switch {
		case name == "default":
			b.Warnings = append(b.Warnings, file+": export default is not served: export a function per HTTP method (GET, POST, …)")
		case !slices.Contains(abi.Methods[:], name) && slices.Contains(abi.Methods[:], strings.ToUpper(name)):
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: export %q is not served: HTTP method handlers are uppercase (%s)", file, name, strings.ToUpper(name)))
		}
	}
	if len(b.Methods) == 0 {
		// Not an error, as in Next.js: the route answers 405, and the
		// project's other routes serve.
		b.Warnings = append(b.Warnings, fmt.Sprintf("%s: exports no HTTP method handler (%s), so it answers 405 to every request but OPTIONS", file, strings.Join(abi.Methods[:], ", ")))
	}
	return b, nil
}

// entry is the bundle's entry module: it hands the route's namespace to the
// platform (registerRoute in platform/dispatch.js) and re-exports it, so
// that esbuild's metafile lists the route's exports.
func entry(file string, catchAll []string) string {
	spec, _ := json.Marshal("./" + file)
	info, _ := json.Marshal(map[string]any{"file": file, "catchAll": catchAll})
	return fmt.Sprintf("import * as route from %s;\nglobalThis[Symbol.for(\"wasmroute.route\")](route, %s);\nexport * from %s;\n", spec, info, spec)
}

// MiddlewareFiles are the JavaScript and TypeScript middleware files a
// project may have at its root: Next.js's middleware.ts and, from Next.js
// 16, proxy.ts.
var MiddlewareFiles = []string{"middleware.ts", "middleware.js", "proxy.ts", "proxy.js"}

// IsMiddleware reports whether file (slash-separated, relative to the
// project folder) is a middleware file rather than a route.
func IsMiddleware(file string) bool { return slices.Contains(MiddlewareFiles, file) }

// middlewareName is the function a middleware file exports: "middleware"
// or "proxy", after the file's name.
func middlewareName(file string) string { return strings.TrimSuffix(file, path.Ext(file)) }

// middlewareEntry is a middleware bundle's entry module: it hands the
// file's namespace to the platform as a route whose one handler is the
// middleware function (registerRoute in platform/dispatch.js).
func middlewareEntry(file string) string {
	spec, _ := json.Marshal("./" + file)
	info, _ := json.Marshal(map[string]any{"file": file, "catchAll": []string{}, "middleware": middlewareName(file)})
	return fmt.Sprintf("import * as route from %s;\nglobalThis[Symbol.for(\"wasmroute.route\")](route, %s);\nexport * from %s;\n", spec, info, spec)
}

// catchAlls returns the names of the catch-all segments ([...x], [[...x]])
// of a route folder: the ABI gives every param as a list, and only the
// folder says which are lists for the handler.
func catchAlls(dir string) []string {
	names := []string{}
	for _, seg := range strings.Split(dir, "/") {
		seg = strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
		seg = strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
		if name, ok := strings.CutPrefix(seg, "..."); ok {
			names = append(names, name)
		}
	}
	return names
}

// PlatformInput is the init input record of the platform script
// ("wasmroute:platform"), which the engine evaluates before any route.
func PlatformInput(platform string) []byte {
	return record(nil, 1, "wasmroute:platform", platform)
}

// RouteInput returns the init input records of the route, to evaluate
// after the platform's: a script handing the source map to the platform's
// stack mapper ("wasmroute:sourcemap"), and the bundle as an ES module named
// after the route file with ".js" appended ("app/x/route.ts.js"), the name
// that stack traces show before the platform maps them back to the sources.
// It makes a new slice at each call; it is safe for concurrent use.
func (b *Bundle) RouteInput() []byte {
	var sm struct {
		Sources  []string `json:"sources"`
		Mappings string   `json:"mappings"`
	}
	_ = json.Unmarshal(b.SourceMap, &sm) // esbuild's own output
	for i, src := range sm.Sources {     // URLs: app/blog/%5Bslug%5D/route.ts
		if p, err := url.PathUnescape(src); err == nil {
			sm.Sources[i] = strings.TrimPrefix(p, "./")
		}
	}
	name := b.File + ".js"
	arg, _ := json.Marshal(sm)
	nameJS, _ := json.Marshal(name)
	setMap := fmt.Sprintf("globalThis[Symbol.for(\"wasmroute.sourcemap\")](%s, %s);\n", nameJS, arg)

	in := record(nil, 1, "wasmroute:sourcemap", setMap)
	return record(in, 2, name, string(b.Code))
}

// record appends one init input record: u32 kind | u32 name_len | name |
// u32 src_len | src, little-endian.
func record(in []byte, kind uint32, name, src string) []byte {
	in = binary.LittleEndian.AppendUint32(in, kind)
	in = binary.LittleEndian.AppendUint32(in, uint32(len(name)))
	in = append(in, name...)
	in = binary.LittleEndian.AppendUint32(in, uint32(len(src)))
	return append(in, src...)
}

// readMetafile returns the exports of the build's one output and its input
// files (those of the file namespace: esbuild writes the others as
// "namespace:path").
func readMetafile(metafile string) (exports, inputs []string, err error) {
	var meta struct {
		Inputs  map[string]json.RawMessage `json:"inputs"`
		Outputs map[string]struct {
			Exports    []string `json:"exports"`
			EntryPoint string   `json:"entryPoint"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(metafile), &meta); err != nil {
		return nil, nil, fmt.Errorf("jsbuild: esbuild metafile: %w", err)
	}
	for name := range meta.Inputs {
		if !strings.Contains(name, ":") {
			inputs = append(inputs, name)
		}
	}
	slices.Sort(inputs)
	for _, o := range meta.Outputs {
		if o.EntryPoint != "" {
			return o.Exports, inputs, nil
		}
	}
	return nil, nil, errors.New("jsbuild: esbuild metafile lists no entry point")
}

// messages formats esbuild messages as "file:line:col: text", the column
// 1-based as Go tools write it.
func messages(msgs []api.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, format(m))
	}
	return out
}

func format(m api.Message) string {
	l := m.Location
	if l == nil {
		return m.Text
	}
	file := l.File
	if l.Namespace != "" && l.Namespace != "file" {
		file = l.Namespace + ":" + file
	}
	return fmt.Sprintf("%s:%d:%d: %s", file, l.Line, l.Column+1, m.Text)
}
