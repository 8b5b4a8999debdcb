package runtime

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// BenchmarkMiddleware measures what a middleware adds to a request, in
// process, in one run: the WAT route testdata/wat/hello.wat at /w/x alone,
// behind a TypeScript middleware returning NextResponse.next() with a
// response header, behind the WAT middleware testdata/wat/middleware.wat
// doing the same, behind a TypeScript middleware returning nothing, and
// behind a TypeScript middleware whose matcher skips the path; and, for
// scale, a TypeScript route answering the same alone (ts-route).
func BenchmarkMiddleware(b *testing.B) {
	const nextTS = `import { NextResponse } from 'next/server'
export function middleware() { return NextResponse.next({ headers: { 'x-mw': '1' } }) }
`
	serve := func(files map[string]string, wat bool) http.Handler {
		dir := jsProject(b, files)
		if files["app/w/x/route.ts"] == "" {
			hostileCopy(b, filepath.Join("..", "testdata", "wat", "hello.wasm"), filepath.Join(dir, "app", "w", "x", "route.wasm"))
		}
		if wat {
			hostileCopy(b, filepath.Join("..", "testdata", "wat", "middleware.wasm"), filepath.Join(dir, "middleware.wasm"))
		}
		s, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), CacheDir: hostileCacheDir(), IdleTimeout: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	for _, bc := range []struct {
		name   string
		h      http.Handler
		header string // set by the middleware
	}{
		{"route", serve(nil, false), ""},
		{"route+ts", serve(map[string]string{"middleware.ts": nextTS}, false), "X-Mw"},
		{"route+wat", serve(nil, true), "X-Wat"},
		{"route+ts-nothing", serve(map[string]string{"middleware.ts": "export function middleware() {}\n"}, false), ""},
		{"ts-route", serve(map[string]string{"app/w/x/route.ts": "export function GET() { return new Response('hello') }\n"}, false), ""},
		{"route+ts-skipped", serve(map[string]string{"middleware.ts": nextTS + "export const config = { matcher: ['/api/:path*', '/((?!w/).*)'] }\n"}, false), ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/w/x", nil)
			rec := httptest.NewRecorder()
			bc.h.ServeHTTP(rec, req) // warm: instantiate outside the timed loop
			if rec.Code != 200 || rec.Body.String() != "hello" || bc.header != "" && rec.Header().Get(bc.header) == "" {
				b.Fatalf("GET /w/x = %d %q %v, want 200 \"hello\" with %s", rec.Code, rec.Body, rec.Header(), bc.header)
			}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
