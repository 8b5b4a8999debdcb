package runtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// jsBenchRoutes are the handlers BenchmarkJS serves: the small JSON route of
// the load benchmarks (params, the query, a header) and the smallest one.
var jsBenchRoutes = map[string]string{
	"app/api/item/[id]/route.ts": `
import { NextResponse, type NextRequest } from 'next/server'
export async function GET(request: NextRequest, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params
  return NextResponse.json({ id, q: request.nextUrl.searchParams.get('q'), ua: request.headers.get('user-agent') })
}`,
	"app/api/hi/route.ts":    `export function GET() { return new Response('hi') }`,
	"app/api/micro/route.ts": jsMicroRoute,
}

// jsMicroRoute times n iterations of each operation of the request path
// inside the engine (performance.now()) and answers the nanoseconds per
// operation as JSON. ?n= sets n.
const jsMicroRoute = `
import { NextRequest } from 'next/server'
const ops: Record<string, () => unknown> = {
  'URL': () => new URL('http://localhost:3000/blog/x?q=1'),
  'URL.searchParams.get': () => new URL('http://localhost:3000/blog/x?q=1').searchParams.get('q'),
  'Headers': () => new Headers([['content-type', 'text/plain'], ['x-a', 'b']]),
  'Response(string)': () => new Response('hi'),
  'Response.json': () => Response.json({ id: '42', q: 'x', ua: 'wrk' }),
  'Request': () => new Request('http://localhost:3000/blog/x?q=1'),
  'NextRequest': () => new NextRequest('http://localhost:3000/blog/x?q=1'),
  'NextRequest.nextUrl': () => new NextRequest('http://localhost:3000/blog/x?q=1').nextUrl.searchParams.get('q'),
  'JSON.stringify': () => JSON.stringify({ id: '42', q: 'x', ua: 'wrk' }),
  'empty': () => undefined,
}
export async function GET(request: Request) {
  const n = Number(new URL(request.url).searchParams.get('n') ?? 200)
  const out: Record<string, number> = {}
  for (const [name, op] of Object.entries(ops)) {
    op()
    const t0 = performance.now()
    for (let i = 0; i < n; i++) op()
    out[name] = (performance.now() - t0) * 1e6 / n
  }
  let t0 = performance.now()
  for (let i = 0; i < n; i++) await Promise.resolve(i).then((x) => x)
  out['Promise.then'] = (performance.now() - t0) * 1e6 / n
  return Response.json(out)
}`

// BenchmarkJS serves JavaScript routes in process through the runtime's
// http.Handler, a native handler writing the same bytes in the same run:
// "hi" is new Response('hi'), "json" the small JSON route of the load
// benchmarks (await params, nextUrl.searchParams, a request header).
func BenchmarkJS(b *testing.B) {
	s, err := New(context.Background(), Config{Dir: jsProject(b, jsBenchRoutes), Logger: slog.New(slog.DiscardHandler), CacheDir: hostileCacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(context.Background()) })
	const jsonBody = `{"id":"42","q":"x","ua":"wrk"}`
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(jsonBody))
	})
	for _, bc := range []struct {
		name, target, body string
		h                  http.Handler
	}{
		{"json/native", "/api/item/42?q=x", jsonBody, native},
		{"json/wasmroute", "/api/item/42?q=x", jsonBody, s},
		{"hi/wasmroute", "/api/hi", "hi", s},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.target, nil)
			req.Header.Set("User-Agent", "wrk")
			rec := httptest.NewRecorder()
			bc.h.ServeHTTP(rec, req) // warm: instantiate outside the timed loop
			if rec.Code != 200 || rec.Body.String() != bc.body {
				b.Fatalf("GET %s = %d %q, want 200 %q", bc.target, rec.Code, rec.Body, bc.body)
			}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkJSMicro reports what each operation of the request path costs
// inside the engine (jsMicroRoute), in ns per operation, one metric each:
//
//	go test ./runtime -run '^$' -bench JSMicro -count 6
func BenchmarkJSMicro(b *testing.B) {
	s, err := New(context.Background(), Config{Dir: jsProject(b, jsBenchRoutes), Logger: slog.New(slog.DiscardHandler), CacheDir: hostileCacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(context.Background()) })
	req := httptest.NewRequest("GET", "/api/micro?n=200", nil)
	sums := map[string]float64{}
	runs := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var got map[string]float64
		if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || err != nil {
			b.Fatalf("GET /api/micro = %d %q (%v)", rec.Code, rec.Body, err)
		}
		for k, v := range got {
			sums[k] += v
		}
		runs++
	}
	for k, v := range sums {
		b.ReportMetric(v/float64(runs), k+"-ns/op")
	}
}
