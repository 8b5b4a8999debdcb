package route_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

func TestRevalidatePath(t *testing.T) {
	var errs []error
	res := routetest.Run(func(w *route.Response, r *route.Request) {
		for _, p := range []string{"/blog/hello", "/blog/[slug]", "blog", "/a?b"} {
			errs = append(errs, route.RevalidatePath(p))
		}
	}, routetest.NewRequest("POST", "/admin/publish", nil))
	if diff := cmp.Diff([]string{"/blog/hello", "/blog/[slug]"}, res.Revalidated); diff != "" {
		t.Errorf("Revalidated (-want +got):\n%s", diff)
	}
	for i, want := range []string{"", "", `cache revalidate "blog": want a path that starts with / and has no query`, `cache revalidate "/a?b": want a path that starts with / and has no query`} {
		switch err := errs[i]; {
		case want == "" && err != nil:
			t.Errorf("call %d: %v", i, err)
		case want != "" && (err == nil || err.Error() != want || !errors.Is(err, route.ErrInvalid)):
			t.Errorf("call %d: %v, want %q (ErrInvalid)", i, err, want)
		}
	}
}
