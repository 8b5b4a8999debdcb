package route_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

func TestSetCookie(t *testing.T) {
	expires := time.Date(2030, 5, 6, 7, 8, 9, 0, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name    string
		cookie  route.Cookie
		want    string // the Set-Cookie header; "" when SetCookie fails
		wantErr error
	}{
		{"name and value", route.Cookie{Name: "a", Value: "1"}, "a=1", nil},
		{"empty value", route.Cookie{Name: "a"}, "a=", nil},
		{"every attribute", route.Cookie{
			Name: "session", Value: "abc", Path: "/", Domain: "example.com", MaxAge: 3600,
			Expires: expires, Secure: true, HttpOnly: true, SameSite: route.SameSiteLax,
		}, "session=abc; Path=/; Domain=example.com; Expires=Mon, 06 May 2030 05:08:09 GMT; Max-Age=3600; HttpOnly; Secure; SameSite=Lax", nil},
		{"SameSite Strict", route.Cookie{Name: "a", Value: "1", SameSite: route.SameSiteStrict}, "a=1; SameSite=Strict", nil},
		{"SameSite None", route.Cookie{Name: "a", Value: "1", Secure: true, SameSite: route.SameSiteNone}, "a=1; Secure; SameSite=None", nil},
		{"negative MaxAge deletes", route.Cookie{Name: "a", MaxAge: -1}, "a=; Max-Age=0", nil},
		{"leading dot of Domain dropped", route.Cookie{Name: "a", Value: "1", Domain: ".example.com"}, "a=1; Domain=example.com", nil},
		{"value escaped", route.Cookie{Name: "a", Value: `x y;z,"q"\ é%`}, `a=x%20y%3Bz%2C%22q%22%5C%20%C3%A9%25`, nil},
		{"value with = and / kept", route.Cookie{Name: "jwt", Value: "a.b/c=="}, "jwt=a.b/c==", nil},
		{"name not a token", route.Cookie{Name: "a b", Value: "1"}, "", route.ErrInvalid},
		{"empty name", route.Cookie{Value: "1"}, "", route.ErrInvalid},
		{"path with ;", route.Cookie{Name: "a", Path: "/x; Secure"}, "", route.ErrInvalid},
		{"path with newline", route.Cookie{Name: "a", Path: "/x\n"}, "", route.ErrInvalid},
		{"bad domain", route.Cookie{Name: "a", Domain: "exa mple.com"}, "", route.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			res := routetest.Run(func(w *route.Response, r *route.Request) { err = w.SetCookie(tt.cookie) },
				&routetest.Request{})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("SetCookie: %v, want %v", err, tt.wantErr)
			}
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if diff := cmp.Diff(want, res.Header.Values("Set-Cookie")); diff != "" {
				t.Errorf("Set-Cookie (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCookieRoundTrip checks that a value set by SetCookie and sent back by
// the client reads as it was set.
func TestCookieRoundTrip(t *testing.T) {
	for _, v := range []string{"plain", "", "with space", `"quoted"`, "a;b,c\\d", "100%", "%41", "ünï", "\x00\x7f"} {
		res := routetest.Run(func(w *route.Response, r *route.Request) {
			w.SetCookie(route.Cookie{Name: "c", Value: v})
		}, &routetest.Request{})
		req := routetest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", res.Header.Get("Set-Cookie"))
		var got string
		routetest.Run(func(w *route.Response, r *route.Request) { got, _ = r.Cookie("c") }, req)
		if got != v {
			t.Errorf("%q came back as %q (header %q)", v, got, res.Header.Get("Set-Cookie"))
		}
	}
}

// TestCookieSetThenRead checks Next.js's cookies() semantics: a cookie the
// response sets is what a later read in the same request returns, and one
// it deletes is gone.
func TestCookieSetThenRead(t *testing.T) {
	type read struct {
		Value string
		OK    bool
	}
	var before, afterSet, afterDelete, other, past, kept read
	var list, listBefore []route.Cookie
	h := func(w *route.Response, r *route.Request) {
		listBefore = r.Cookies()
		v, ok := r.Cookie("theme")
		before = read{v, ok}
		if err := w.SetCookie(route.Cookie{Name: "theme", Value: "dark night", Path: "/"}); err != nil {
			t.Error(err)
		}
		v, ok = r.Cookie("theme")
		afterSet = read{v, ok}
		if err := w.SetCookie(route.Cookie{Name: "new", Value: "1"}); err != nil {
			t.Error(err)
		}
		list = r.Cookies()
		if err := w.DeleteCookie("session"); err != nil {
			t.Error(err)
		}
		v, ok = r.Cookie("session")
		afterDelete = read{v, ok}
		v, ok = r.Cookie("lang")
		other = read{v, ok}
		if err := w.SetCookie(route.Cookie{Name: "lang", Expires: time.Unix(1, 0)}); err != nil {
			t.Error(err)
		}
		v, ok = r.Cookie("lang")
		past = read{v, ok}
		// A refused cookie changes nothing.
		if err := w.SetCookie(route.Cookie{Name: "new", Value: "2", Domain: "bad domain"}); !errors.Is(err, route.ErrInvalid) {
			t.Errorf("SetCookie with a bad domain: %v, want ErrInvalid", err)
		}
		v, ok = r.Cookie("new")
		kept = read{v, ok}
	}
	req := routetest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "theme=light; session=abc; lang=en")
	routetest.Run(h, req)
	for _, c := range []struct {
		name      string
		want, got read
	}{
		{"before", read{"light", true}, before},
		{"after set", read{"dark night", true}, afterSet},
		{"after delete", read{}, afterDelete},
		{"another cookie", read{"en", true}, other},
		{"expired", read{}, past},
		{"after a refused set", read{"1", true}, kept},
	} {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", c.name, diff)
		}
	}
	want := []route.Cookie{{Name: "theme", Value: "dark night"}, {Name: "session", Value: "abc"}, {Name: "lang", Value: "en"}, {Name: "new", Value: "1"}}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("Cookies after set (-want +got):\n%s", diff)
	}
	// A list returned earlier is not changed under its holder.
	wantBefore := []route.Cookie{{Name: "theme", Value: "light"}, {Name: "session", Value: "abc"}, {Name: "lang", Value: "en"}}
	if diff := cmp.Diff(wantBefore, listBefore); diff != "" {
		t.Errorf("Cookies returned before the set (-want +got):\n%s", diff)
	}
}
