package jsbuild

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app/blog/[slug]"), 0o755)
	os.WriteFile(filepath.Join(dir, "app/blog/[slug]/route.ts"), []byte(`import { NextResponse, type NextRequest } from "next/server";
export const dynamic: string = "force-dynamic";
export async function GET(req: NextRequest) {
  return NextResponse.json({ ok: true });
}
`), 0o644)
	b, err := Build(dir, "app/blog/[slug]/route.ts")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Methods) != 1 || b.Config.Dynamic != "force-dynamic" || len(b.Input()) == 0 {
		t.Errorf("%+v", b)
	}
}
