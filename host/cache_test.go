package host

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/abi"
)

// revalidator records the paths cache_revalidate passes on, and refuses
// those without a leading slash, as the runtime's cache does.
type revalidator struct{ paths []string }

func (r *revalidator) RevalidatePath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return errors.New("want a path that starts with /")
	}
	r.paths = append(r.paths, path)
	return nil
}

// TestCacheRevalidate calls cache_revalidate with a cache, without one, and
// with paths at and past its 8 KiB bound.
func TestCacheRevalidate(t *testing.T) {
	mod := newGuest(t)
	long := "/" + strings.Repeat("p", maxRevalidatePath-1)
	tests := []struct {
		name   string
		cache  bool
		path   string
		want   int32
		msg    string   // error_message after the call
		passed []string // what the cache was given
	}{
		{"a path", true, "/blog/hello", abi.OK, "", []string{"/blog/hello"}},
		{"a pattern", true, "/blog/[slug]", abi.OK, "", []string{"/blog/[slug]"}},
		{"8 KiB", true, long, abi.OK, "", []string{long}},
		{"over 8 KiB", true, long + "p", abi.ErrInvalid, "cache revalidate: the path is over 8 KiB", nil},
		{"refused by the cache", true, "blog", abi.ErrInvalid, `cache revalidate "blog": want a path that starts with /`, nil},
		{"no cache", false, "/blog/hello", abi.OK, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset(mod)
			e, ctx := kvExchange(nil)
			rv := &revalidator{}
			if tt.cache {
				e.Revalidator = rv
			}
			got := kvCall(t, ctx, mod, abi.FuncCacheRevalidate, tt.path)
			if got != tt.want {
				t.Errorf("cache_revalidate(%.20q) = %d, want %d", tt.path, got, tt.want)
			}
			if msg := errorMessage(t, ctx, mod); msg != tt.msg {
				t.Errorf("error_message = %q, want %q", msg, tt.msg)
			}
			if diff := cmp.Diff(tt.passed, rv.paths); diff != "" {
				t.Errorf("paths given to the cache (-want +got):\n%s", diff)
			}
		})
	}
}
