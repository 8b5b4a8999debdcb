package jsbuild

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/evanw/esbuild/pkg/api"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMain(m *testing.M) {
	ServeChild() // for TestBuildInChild
	os.Exit(m.Run())
}

// project writes files (slash-separated paths) into a new project folder.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPlatform(t *testing.T) {
	code, err := Platform()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(code, "(()=>{") {
		t.Errorf("the platform is not an IIFE: %.40q", code)
	}
	// Minified: the names are esbuild's, but the functions keep theirs.
	for _, want := range []string{
		"delete globalThis.__wasmroute_host",
		`("wasmroute.next",`,
		`("wasmroute.kv",`,
		".register({dispatch:",
		"io:", "ready:",
		`(this,"NextRequest")`,
	} {
		if !strings.Contains(code, want) {
			t.Errorf("the platform lacks %q", want)
		}
	}
	if again, _ := Platform(); again != code {
		t.Error("Platform built twice")
	}
}

// TestPlatformModules checks that each next/* and wasmroute:* module a
// route imports exports exactly what the platform's implementation does.
func TestPlatformModules(t *testing.T) {
	for _, name := range []string{"next/cache", "next/server", "next/headers", "next/navigation", "wasmroute/kv"} {
		t.Run(name, func(t *testing.T) {
			dir, base := path.Split(name)
			shim := exportsOf(t, "platform/"+name+".js")
			impl := exportsOf(t, "platform/"+dir+"impl/"+base+".js")
			impl = slices.DeleteFunc(impl, func(s string) bool {
				return slices.Contains([]string{"NextURL", "begin", "end", "setCookies", "navigationResponse", "init"}, s) // the platform's
			})
			shim = slices.DeleteFunc(shim, func(s string) bool { return s == "default" })
			if diff := cmp.Diff(impl, shim); diff != "" {
				t.Errorf("%s exports (-impl +shim):\n%s", name, diff)
			}
		})
	}
}

func exportsOf(t *testing.T, file string) []string {
	t.Helper()
	src, err := fs.ReadFile(platformFS, file)
	if err != nil {
		t.Fatal(err)
	}
	res := api.Build(api.BuildOptions{
		Stdin:    &api.StdinOptions{Contents: string(src), Sourcefile: file, Loader: api.LoaderJS},
		Format:   api.FormatESModule,
		Metafile: true,
		LogLevel: api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		t.Fatal(messages(res.Errors))
	}
	exports, _, err := readMetafile(res.Metafile)
	if err != nil {
		t.Fatal(err)
	}
	return exports
}

func TestBuild(t *testing.T) {
	const tsRoute = `import { NextResponse, type NextRequest } from "next/server";
interface Params { slug: string }
export async function GET(req: NextRequest, { params }: { params: Promise<Params> }): Promise<Response> {
	const { slug } = await params;
	return NextResponse.json({ slug } satisfies Params);
}
export const POST = async (req: Request) => new Response(await req.text());
export type Unused = string;
`
	tests := []struct {
		name     string
		files    map[string]string
		file     string
		methods  []string
		exports  []string
		contains []string // in Code
		excludes []string
		warnings []string
	}{
		{
			name:     "typescript",
			files:    map[string]string{"app/blog/[slug]/route.ts": tsRoute},
			file:     "app/blog/[slug]/route.ts",
			methods:  []string{"GET", "POST"},
			exports:  []string{"GET", "POST"},
			contains: []string{`async function GET(req, { params })`, `"catchAll": []`, `Symbol.for("wasmroute.next")`},
			excludes: []string{"interface", "satisfies", "Promise<Response>", "Unused"},
		},
		{
			name: "wasmroute:kv",
			files: map[string]string{"app/count/route.ts": `import { kv, type KVError } from "wasmroute:kv";
import store from "wasmroute:kv";
export async function POST() { return Response.json({ n: await kv.incr("n"), same: store === kv }); }
`},
			file:     "app/count/route.ts",
			methods:  []string{"POST"},
			exports:  []string{"POST"},
			contains: []string{`Symbol.for("wasmroute.kv")`, `await kv.incr("n")`},
		},
		{
			name: "javascript with top-level await",
			files: map[string]string{"app/route.js": `const config = await Promise.resolve({ greeting: "hi" });
export function GET() { return new Response(config.greeting); }
export function HEAD() { return new Response(null); }
`},
			file:     "app/route.js",
			methods:  []string{"GET", "HEAD"},
			exports:  []string{"GET", "HEAD"},
			contains: []string{"await Promise.resolve("},
		},
		{
			name: "project module, tsconfig paths, export star",
			files: map[string]string{
				"tsconfig.json":       `{"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./src/*"]}}}`,
				"src/db.ts":           `export const rows = (): string[] => ["marker-db"];`,
				"app/api/handlers.ts": `export function DELETE() { return new Response(null, { status: 204 }); }`,
				"app/api/[...all]/route.ts": `import { rows } from "@/db";
import { shout } from "../../../lib/shout";
export * from "../handlers";
export function GET() { return Response.json(rows().map(shout)); }
`,
				"lib/shout.ts": `export const shout = (s: string) => s + "marker-shout";`,
			},
			file:     "app/api/[...all]/route.ts",
			methods:  []string{"DELETE", "GET"},
			exports:  []string{"DELETE", "GET"},
			contains: []string{`"marker-db"`, `"marker-shout"`, `"catchAll": ["all"]`},
		},
		{
			name: "node_modules package",
			files: map[string]string{
				"node_modules/leftpad/package.json":   `{"name": "leftpad", "main": "lib/index.js"}`,
				"node_modules/leftpad/lib/index.js":   `module.exports = (s, n) => "marker-leftpad" + s;`,
				"node_modules/@acme/ids/package.json": `{"name": "@acme/ids", "exports": {".": {"browser": "./web.js", "node": "./node.js"}}}`,
				"node_modules/@acme/ids/web.js":       `export const id = () => "marker-web";`,
				"node_modules/@acme/ids/node.js":      `import "node:crypto"; export const id = () => "marker-node";`,
				"app/docs/[[...path]]/route.ts": `import leftpad from "leftpad";
import { id } from "@acme/ids";
export function GET() { return new Response(leftpad(id(), 3)); }
`,
			},
			file:     "app/docs/[[...path]]/route.ts",
			methods:  []string{"GET"},
			exports:  []string{"GET"},
			contains: []string{"marker-leftpad", "marker-web", `"catchAll": ["path"]`},
			excludes: []string{"marker-node"},
		},
		{
			name: "next/server is ours even with node_modules/next",
			files: map[string]string{
				"node_modules/next/package.json": `{"name": "next", "version": "15.0.0"}`,
				"node_modules/next/server.js":    `exports.NextResponse = "marker-real-next";`,
				"app/route.ts": `import { NextResponse } from "next/server";
import { cookies, headers } from "next/headers";
import { redirect, notFound, RedirectType } from "next/navigation";
export async function GET() { (await cookies()).get("a"); return NextResponse.json(0); }
`,
			},
			file:     "app/route.ts",
			methods:  []string{"GET"},
			exports:  []string{"GET"},
			contains: []string{`globalThis[/* @__PURE__ */ Symbol.for("wasmroute.next")].server`},
			excludes: []string{"marker-real-next"},
		},
		{
			name: "exports that are not served",
			files: map[string]string{"app/route.ts": `export function GET() { return new Response(); }
function post() { return new Response(); }
const handler = () => {};
export { post, handler as default };
`},
			file:    "app/route.ts",
			methods: []string{"GET"},
			exports: []string{"GET", "default", "post"},
			warnings: []string{
				"app/route.ts: export default is not served: export a function per HTTP method (GET, POST, …)",
				`app/route.ts: export "post" is not served: HTTP method handlers are uppercase (POST)`,
			},
		},
		{
			name:    "no method: a warning, not an error, as in Next.js",
			files:   map[string]string{"app/route.ts": "export function get() {}\n"},
			file:    "app/route.ts",
			exports: []string{"get"},
			warnings: []string{
				`app/route.ts: export "get" is not served: HTTP method handlers are uppercase (GET)`,
				"app/route.ts: exports no HTTP method handler (DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT), so it answers 405 to every request but OPTIONS",
			},
		},
		{
			name: "esbuild warning",
			files: map[string]string{"app/route.js": `export function GET() { return Response.json({ a: 1, a: 2 }); }
`},
			file:     "app/route.js",
			methods:  []string{"GET"},
			exports:  []string{"GET"},
			warnings: []string{`app/route.js:1:54: Duplicate key "a" in object literal`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.files)
			b, err := Build(dir, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.methods, b.Methods); diff != "" {
				t.Errorf("Methods (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.exports, b.Exports); diff != "" {
				t.Errorf("Exports (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, b.Warnings, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Warnings (-want +got):\n%s", diff)
			}
			for _, s := range tt.contains {
				if !bytes.Contains(b.Code, []byte(s)) {
					t.Errorf("the bundle lacks %q:\n%s", s, b.Code)
				}
			}
			for _, s := range tt.excludes {
				if bytes.Contains(b.Code, []byte(s)) {
					t.Errorf("the bundle has %q:\n%s", s, b.Code)
				}
			}
			var sm struct{ Sources []string }
			if err := json.Unmarshal(b.SourceMap, &sm); err != nil || !slices.Contains(sm.Sources, (&url.URL{Path: tt.file}).EscapedPath()) {
				t.Errorf("source map sources %q (%v): want %q among them", sm.Sources, err, tt.file)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // with DIR for the project folder
	}{
		{
			name:  "missing package",
			files: map[string]string{"app/route.ts": "import _ from \"lodash/fp\";\nexport function GET() { return new Response(_); }\n"},
			want:  []string{`app/route.ts:1:15: cannot resolve "lodash": run npm install in DIR, or remove the import`},
		},
		{
			name: "syntax error",
			files: map[string]string{"app/route.ts": `export function GET() {
	return new Response(1 +);
}
`},
			want: []string{`app/route.ts:2:25: Unexpected ")"`},
		},
		{
			name: "node built-ins",
			files: map[string]string{"app/route.ts": `import fs from "fs";
import { randomUUID } from "node:crypto";
export function GET() { return new Response(fs + randomUUID()); }
`},
			want: []string{
				`app/route.ts:1:16: "fs" is a Node.js built-in module: wasmroute runs route handlers on Web APIs (fetch, Request, Response, crypto.subtle, TextEncoder …), as Next.js's edge runtime does`,
				`app/route.ts:2:28: "crypto" is a Node.js built-in module: wasmroute runs route handlers on Web APIs (fetch, Request, Response, crypto.subtle, TextEncoder …), as Next.js's edge runtime does`,
			},
		},
		{
			name:  "other next modules",
			files: map[string]string{"app/route.ts": "import { ImageResponse } from \"next/og\";\nexport function GET() { return new ImageResponse(null); }\n"},
			want:  []string{`app/route.ts:1:31: "next/og" is not available: wasmroute provides next/server, next/headers, next/navigation and next/cache`},
		},
		{
			name:  "other wasmroute modules",
			files: map[string]string{"app/route.ts": "import { cache } from \"wasmroute:cache\";\nexport function GET() { return new Response(cache); }\n"},
			want:  []string{`app/route.ts:1:23: "wasmroute:cache" is not available: wasmroute provides wasmroute:kv`},
		},
		{
			name:  "a name next/server lacks",
			files: map[string]string{"app/route.ts": "import { after } from \"next/server\";\nexport function GET() { after(() => {}); return new Response(); }\n"},
			want:  []string{`app/route.ts:1:10: No matching export in "wasmroute:platform/next/server.js" for import "after"`},
		},
		{
			name: "outside the project",
			files: map[string]string{
				"app/route.ts": "import x from \"../../secret.json\";\nexport function GET() { return Response.json(x); }\n",
			},
			want: []string{`app/route.ts:1:15: "../../secret.json" is outside the project folder DIR`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.files)
			os.WriteFile(filepath.Join(dir, "..", "secret.json"), []byte(`{"secret": 1}`), 0o644)
			_, err := Build(dir, "app/route.ts")
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("Build: %v, want a *BuildError", err)
			}
			root, _ := filepath.EvalSymlinks(dir)
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = strings.ReplaceAll(w, "DIR", root)
			}
			if diff := cmp.Diff(want, be.Messages); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSegmentConfig(t *testing.T) {
	inf, sixty := math.Inf(1), 60.0
	no := false
	tests := []struct {
		name string
		src  string
		want SegmentConfig
	}{
		{"none", "export function GET() {}", SegmentConfig{}},
		{
			name: "every option",
			src: `export const maxDuration: number = 0x1e;
export const dynamic = "force-dynamic" as const;
export const revalidate = 60, runtime = 'edge', other = f(1, 2), more = [3];
export const fetchCache = ` + "`force-no-store`" + `;
export const preferredRegion = ["iad1", "sfo1",];
export const dynamicParams = false;
export function GET() {}
`,
			want: SegmentConfig{MaxDuration: 30, Dynamic: "force-dynamic", Revalidate: &sixty, Runtime: "edge",
				FetchCache: "force-no-store", PreferredRegion: []string{"iad1", "sfo1"}, DynamicParams: &no},
		},
		{
			name: "revalidate false, one region, escapes",
			src: `export const revalidate = false;
export const preferredRegion = "h\x6fme";
const other = { dynamic: 1 + 2 }, s = ` + "`a${other}`" + `, re = /["'{]/;
export function GET() {}
`,
			want: SegmentConfig{Revalidate: &inf, PreferredRegion: []string{"home"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, map[string]string{"app/route.ts": tt.src})
			b, err := Build(dir, "app/route.ts")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.Config); diff != "" {
				t.Errorf("Config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSegmentConfigErrors(t *testing.T) {
	src := `import { x } from "./x";
export const maxDuration: number = 5 * 60;
export let dynamic = "force-dynamic";
export const revalidate = "60";
const fc = "force-cache";
export { fc as fetchCache };
export const runtime = ` + "`edge${x}`" + `;
export const preferredRegion = [x];
export const dynamicParams = x ? true : false;
export function GET() {}
`
	dir := project(t, map[string]string{"app/route.ts": src, "app/x.ts": "export const x = 1;"})
	_, err := Build(dir, "app/route.ts")
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build: %v, want a *BuildError", err)
	}
	want := []string{
		"app/route.ts:2:36: maxDuration must be a literal (Next.js reads it statically), not an expression",
		"app/route.ts:3:12: dynamic must be declared with `export const`, not `export let`",
		`app/route.ts:4:14: revalidate must be false or a number of seconds ≥ 0, not "60"`,
		"app/route.ts:6:16: fetchCache must be declared as `export const fetchCache = <literal>` (Next.js reads it statically)",
		"app/route.ts:7:24: runtime must be a literal (Next.js reads it statically), not an expression",
		"app/route.ts:8:32: preferredRegion must be a literal (Next.js reads it statically), not an expression",
		"app/route.ts:9:30: dynamicParams must be a literal (Next.js reads it statically), not an expression",
	}
	if diff := cmp.Diff(want, be.Messages); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestInput(t *testing.T) {
	dir := project(t, map[string]string{"app/blog/[slug]/route.ts": "export function GET(): Response {\n\tthrow new Error();\n}\n"})
	b, err := Build(dir, "app/blog/[slug]/route.ts")
	if err != nil {
		t.Fatal(err)
	}
	platform, _ := Platform()
	type rec struct {
		Kind uint32
		Name string
		Src  string
	}
	var got []rec
	in := append(PlatformInput(platform), b.RouteInput()...)
	u32 := func() uint32 {
		if len(in) < 4 {
			t.Fatalf("record cut short")
		}
		v := binary.LittleEndian.Uint32(in)
		in = in[4:]
		return v
	}
	str := func() string {
		n := u32()
		if int(n) > len(in) {
			t.Fatalf("length %d past the input", n)
		}
		s := string(in[:n])
		in = in[n:]
		return s
	}
	for len(in) > 0 {
		got = append(got, rec{u32(), str(), str()})
	}
	want := []rec{
		{1, "wasmroute:platform", platform},
		{1, "wasmroute:sourcemap", `globalThis[Symbol.for("wasmroute.sourcemap")]("app/blog/[slug]/route.ts.js", ` +
			`{"sources":["app/blog/[slug]/route.ts","wasmroute:entry"],"mappings":"` + mappings(t, b.SourceMap) + `"});` + "\n"},
		{2, "app/blog/[slug]/route.ts.js", string(b.Code)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func mappings(t *testing.T, sourceMap []byte) string {
	var sm struct{ Mappings string }
	if err := json.Unmarshal(sourceMap, &sm); err != nil {
		t.Fatal(err)
	}
	return sm.Mappings
}

func TestCatchAlls(t *testing.T) {
	tests := map[string][]string{
		"app":                             {},
		"app/blog/[slug]":                 {},
		"app/docs/[...path]":              {"path"},
		"app/(g)/[a]/[...b]/x/[[...c]]":   {"b", "c"},
		"app/files/[[...rest]]":           {"rest"},
		"app/%5Fwell/[[...path]]/(group)": {"path"},
	}
	for dir, want := range tests {
		if diff := cmp.Diff(want, catchAlls(dir)); diff != "" {
			t.Errorf("catchAlls(%q) (-want +got):\n%s", dir, diff)
		}
	}
}

func TestBuildConcurrent(t *testing.T) {
	dir := project(t, map[string]string{
		"app/a/route.ts": `export const GET = () => new Response("a");`,
		"app/b/route.js": `export const POST = () => new Response("b");`,
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			file := []string{"app/a/route.ts", "app/b/route.js"}[i%2]
			if _, err := Build(dir, file); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}
