package jsbuild

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMiddlewareConfig(t *testing.T) {
	dir := project(t, map[string]string{
		"proxy.ts": `import { NextResponse } from 'next/server'
export function proxy(request: Request) { return NextResponse.next() }
export const config = {
  matcher: [
    '/about/:path*',
    { source: "/api/:path*", has: [{ type: 'header', key: 'authorization' }], missing: [{ type: 'cookie', key: 'session', value: 'x.*' }] },
  ],
}
`,
	})
	b, err := Build(dir, "proxy.ts")
	if err != nil {
		t.Fatal(err)
	}
	want := []Matcher{
		{Source: "/about/:path*"},
		{Source: "/api/:path*", Has: []Condition{{Type: "header", Key: "authorization"}}, Missing: []Condition{{Type: "cookie", Key: "session", Value: "x.*"}}},
	}
	if diff := cmp.Diff(want, b.Config.Matcher); diff != "" {
		t.Errorf("matcher (-want +got):\n%s", diff)
	}
	if b.Methods != nil {
		t.Errorf("a middleware has methods %q", b.Methods)
	}
	if !strings.Contains(string(b.Code), `"middleware": "proxy"`) {
		t.Errorf("the bundle does not register the proxy function:\n%s", b.Code)
	}
}

func TestMiddlewareConfigErrors(t *testing.T) {
	for src, want := range map[string]string{
		"export const config = { matcher: 'about' }":                                 `matcher "about" must start with /`,
		"export const config = { matcher: ['/a'], regions: ['x'] }":                  `"regions" is not a middleware option`,
		"export const config = { matcher: [{ source: '/a', locale: false }] }":       `unknown field "locale"`,
		"export const config = { matcher: [{ source: '/a', has: [{ key: 'x' }] }] }": "needs a type",
		"export const config = { matcher: [[[[[[[[['/a']]]]]]]]] }":                  "config must be a literal",
		"export let config = { matcher: '/a' }":                                      "export const",
	} {
		dir := project(t, map[string]string{"middleware.ts": "export function middleware() {}\n" + src + "\n"})
		_, err := Build(dir, "middleware.ts")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", src, err, want)
		}
	}
}
