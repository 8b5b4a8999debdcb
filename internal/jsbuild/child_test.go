package jsbuild

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestBuildInChild builds in a child process (this test binary again, by
// TestMain's ServeChild) what Build builds in process, and passes a build
// error through with its messages.
func TestBuildInChild(t *testing.T) {
	dir := project(t, map[string]string{
		"app/ok/route.ts":  "export function GET(): Response { return new Response('ok') }\n",
		"app/bad/route.ts": "export function GET( {\n",
	})
	want, err := Build(dir, "app/ok/route.ts")
	if err != nil {
		t.Fatal(err)
	}
	got, err := BuildInChild(context.Background(), dir, "app/ok/route.ts")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Bundle{})); diff != "" {
		t.Errorf("BuildInChild (-Build +child):\n%s", diff)
	}
	if string(got.RouteInput()) != string(want.RouteInput()) {
		t.Error("the child's bundle gives another init input")
	}
	_, werr := Build(dir, "app/bad/route.ts")
	_, gerr := BuildInChild(context.Background(), dir, "app/bad/route.ts")
	var wbe, gbe *BuildError
	if !errors.As(werr, &wbe) || !errors.As(gerr, &gbe) {
		t.Fatalf("want two *BuildError, got %v and %v", werr, gerr)
	}
	if diff := cmp.Diff(wbe.Messages, gbe.Messages); diff != "" {
		t.Errorf("messages (-Build +child):\n%s", diff)
	}
}
