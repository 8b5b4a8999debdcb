package outbound

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	ip := netip.MustParseAddr
	good := []struct {
		in   string
		want entry
	}{
		{"https://api.example.com", entry{scheme: "https", kind: hostName, name: "api.example.com"}},
		{"HTTP://API.Example.COM.:8080", entry{scheme: "http", kind: hostName, name: "api.example.com", port: 8080}},
		{"*://example.org:*", entry{scheme: "*", kind: hostName, name: "example.org", port: portAny}},
		{"https://*.example.org", entry{scheme: "https", kind: hostSuffix, name: "example.org"}},
		{"https://*.Example.org.", entry{scheme: "https", kind: hostSuffix, name: "example.org"}},
		{"http://*", entry{scheme: "http", kind: hostAny}},
		{"*://*:*", entry{scheme: "*", kind: hostAny, port: portAny}},
		{"http://127.0.0.1:*", entry{scheme: "http", kind: hostIP, ip: ip("127.0.0.1"), port: portAny}},
		{"http://[::1]:8080", entry{scheme: "http", kind: hostIP, ip: ip("::1"), port: 8080}},
		{"http://[::ffff:10.0.0.1]", entry{scheme: "http", kind: hostIP, ip: ip("10.0.0.1")}},
		{"http://[2001:DB8::1]:65535", entry{scheme: "http", kind: hostIP, ip: ip("2001:db8::1"), port: 65535}},
		{"http://under_score.example", entry{scheme: "http", kind: hostName, name: "under_score.example"}},
		{"http://localhost", entry{scheme: "http", kind: hostName, name: "localhost"}},
	}
	for _, tc := range good {
		t.Run(tc.in, func(t *testing.T) {
			p, err := Parse([]string{tc.in}, "wasmroute.json")
			if err != nil {
				t.Fatal(err)
			}
			tc.want.text = tc.in
			if diff := cmp.Diff([]entry{tc.want}, p.entries, cmp.AllowUnexported(entry{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	bad := []struct{ in, want string }{
		{"example.com", `"example.com": no scheme`},
		{"ftp://example.com", `"ftp://example.com": scheme "ftp": want http, https or *`},
		{"https://", `"https://": no host`},
		{"https://:443", `"https://:443": no host`},
		{"https://example.com/", `has a path, query or fragment ("/")`},
		{"https://example.com/v1", `has a path, query or fragment ("/v1")`},
		{"https://example.com?a=1", `has a path, query or fragment ("?a=1")`},
		{"https://example.com#x", `has a path, query or fragment ("#x")`},
		{"https://user:pw@example.com", `has userinfo`},
		{"https://example.com:", `port "": want 1 to 65535 or *`},
		{"https://example.com:0", `port "0"`},
		{"https://example.com:65536", `port "65536"`},
		{"https://example.com:99999999999999999999", `port "99999999999999999999"`},
		{"https://example.com:+80", `port "+80"`},
		{"https://example.com:http", `port "http"`},
		{"https://::1", `an IPv6 address goes in brackets`},
		{"https://[::1", `no ] after an IPv6 address`},
		{"https://[::1]x", `"x" after ]: want :port`},
		{"https://[example.com]", `[example.com] is not an IPv6 address`},
		{"https://[fe80::1%25eth0]", `is not an IPv6 address (zones are not allowed)`},
		{"https://[127.0.0.1]", `brackets are for IPv6 addresses, write 127.0.0.1`},
		{"https://a.*.example.com", `a wildcard is allowed only as the whole host (*) or as its first label`},
		{"https://*example.com", `a wildcard is allowed only`},
		{"https://*.", `a name has 1 to 253 characters`},
		{"https://exa mple.com", `' ' is not allowed in a host name`},
		{"https://a..b", `a label has 1 to 63 characters`},
		{"https://" + strings.Repeat("a", 64) + ".com", `a label has 1 to 63 characters`},
		{"https://127.1", `host "127.1" is neither a name nor an IP address in standard form`},
		{"https://2130706433", `neither a name nor an IP address`},
		{"https://127.000.0.1", `neither a name nor an IP address`},
		{"https://0x7f.0x1", `neither a name nor an IP address`},
	}
	for _, tc := range bad {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse([]string{"https://fine.example", tc.in}, "app/api/route.json")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "allowedOutboundHosts in app/api/route.json: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one in app/api/route.json containing %q", err, tc.want)
			}
		})
	}

	_, err := Parse([]string{"ftp://a", "https://ok.example", "https://b/x"}, "wasmroute.json")
	if err == nil || strings.Count(err.Error(), "allowedOutboundHosts in wasmroute.json") != 2 {
		t.Errorf("two bad entries: error %v, want both named", err)
	}
}

func TestAllow(t *testing.T) {
	entries := []string{
		"https://api.example.com",
		"http://plain.example:8080",
		"*://both.example",
		"https://*.wild.example",
		"http://127.0.0.1:*",
		"https://[::1]:8443",
		"http://anyport.example:*",
	}
	p, err := Parse(entries, "wasmroute.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url  string
		want string // the error, "" for allowed
	}{
		{"https://api.example.com/v1/x", ""},
		{"https://API.EXAMPLE.COM./v1/x", ""},
		{"https://api.example.com:443/", ""},
		{"http://api.example.com/", `fetch http://api.example.com/: denied: add "http://api.example.com" to allowedOutboundHosts in wasmroute.json`},
		{"https://api.example.com:8443/v1/x?key=secret#frag", `fetch https://api.example.com:8443/v1/x: denied: add "https://api.example.com:8443" to allowedOutboundHosts in wasmroute.json`},
		{"https://user:pass@api.example.com.evil/", `fetch https://api.example.com.evil/: denied: add "https://api.example.com.evil" to allowedOutboundHosts in wasmroute.json`},
		{"http://plain.example:8080/", ""},
		{"http://plain.example/", `fetch http://plain.example/: denied: add "http://plain.example" to allowedOutboundHosts in wasmroute.json`},
		{"http://both.example/", ""},
		{"https://both.example/", ""},
		{"http://both.example:443/", `fetch http://both.example:443/: denied: add "http://both.example:443" to allowedOutboundHosts in wasmroute.json`},
		{"https://a.wild.example/", ""},
		{"https://a.b.wild.example/", ""},
		{"https://wild.example/", `fetch https://wild.example/: denied: add "https://wild.example" to allowedOutboundHosts in wasmroute.json`},
		{"https://xwild.example/", `fetch https://xwild.example/: denied: add "https://xwild.example" to allowedOutboundHosts in wasmroute.json`},
		{"http://127.0.0.1:1234/", ""},
		{"http://127.0.0.1/", ""},
		{"https://127.0.0.1/", `fetch https://127.0.0.1/: denied: add "https://127.0.0.1" to allowedOutboundHosts in wasmroute.json`},
		{"http://[::ffff:127.0.0.1]:80/", ""},
		{"https://[::1]:8443/", ""},
		{"https://[0:0::1]:8443/", ""},
		{"https://[::1]/", `fetch https://[::1]/: denied: add "https://[::1]" to allowedOutboundHosts in wasmroute.json`},
		{"http://[fe80::1%25eth0]/", `fetch http://[fe80::1%25eth0]/: denied: an IPv6 zone is not allowed`},
		{"http://127.0.0.2/", `fetch http://127.0.0.2/: denied: add "http://127.0.0.2" to allowedOutboundHosts in wasmroute.json`},
		{"http://anyport.example:1/", ""},
		{"http://anyport.example/", ""},
		{"ftp://api.example.com/", `fetch ftp://api.example.com/: denied: only http and https`},
		{"file:///etc/passwd", `fetch file:///etc/passwd: denied: only http and https`},
		{"http:opaque@127.0.0.1", `fetch http:: denied: the URL has no host`},
		{"http://127.0.0.1:99999/", `fetch http://127.0.0.1:99999/: denied: the URL's port "99999": want 1 to 65535 or *`},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Allow(u)
			got := ""
			if err != nil {
				got = err.Error()
				var d *DeniedError
				if !errors.As(err, &d) {
					t.Errorf("error %T, want a *DeniedError", err)
				}
			}
			if got != tc.want {
				t.Errorf("Allow(%s) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}

	none, _ := Parse(nil, "--allow-outbound")
	err = none.Allow(&url.URL{Scheme: "https", Host: "example.com", Path: "/"})
	if want := `fetch https://example.com/: denied: add "https://example.com" to allowedOutboundHosts in --allow-outbound`; err == nil || err.Error() != want {
		t.Errorf("no entries: %v, want %q", err, want)
	}
}

func TestWithin(t *testing.T) {
	ceiling := []string{
		"https://*.example.org",
		"*://api.example.com",
		"http://plain.example:*",
		"https://*:443",
		"http://10.0.0.1:8080",
		"https://[fd00::1]",
	}
	tests := []struct {
		entries []string
		out     []string // not within
	}{
		{entries: []string{"https://a.example.org", "https://*.a.example.org", "https://*.example.org"}},
		{entries: []string{"https://example.org", "http://a.example.org", "https://a.example.org:8443"}, out: []string{"http://a.example.org", "https://a.example.org:8443"}},
		{entries: []string{"http://api.example.com", "https://api.example.com", "*://api.example.com", "https://api.example.com:443"}},
		{entries: []string{"*://api.example.com:443", "http://api.example.com:8080"}, out: []string{"*://api.example.com:443", "http://api.example.com:8080"}},
		{entries: []string{"http://plain.example", "http://plain.example:1", "http://plain.example:*"}},
		// Each scheme of a * entry may be covered by another ceiling entry.
		{entries: []string{"*://plain.example"}},
		{entries: []string{"*://other.example"}, out: []string{"*://other.example"}},
		{entries: []string{"https://anything.example", "https://*.anything.example", "https://*"}},
		{entries: []string{"https://*:*", "*://*"}, out: []string{"https://*:*", "*://*"}},
		// IP literals: only the same literal covers them, never a wildcard.
		{entries: []string{"https://10.0.0.1", "https://127.0.0.1", "https://[::1]"}, out: []string{"https://10.0.0.1", "https://127.0.0.1", "https://[::1]"}},
		{entries: []string{"http://10.0.0.1:8080", "https://[fd00::1]", "https://[FD00:0::1]:443"}},
		{entries: []string{"http://10.0.0.1", "http://10.0.0.1:*"}, out: []string{"http://10.0.0.1", "http://10.0.0.1:*"}},
		{entries: nil},
	}
	c, err := Parse(ceiling, "--allow-outbound")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.entries, " "), func(t *testing.T) {
			p, err := Parse(tc.entries, "app/api/route.json")
			if err != nil {
				t.Fatal(err)
			}
			err = p.Within(c)
			var got []string
			if err != nil {
				for _, e := range tc.entries {
					if strings.Contains(err.Error(), `"`+e+`"`) {
						got = append(got, e)
					}
				}
				if !strings.HasPrefix(err.Error(), "allowedOutboundHosts in app/api/route.json: ") || !strings.HasSuffix(err.Error(), " not within the operator's allowedOutboundHosts in --allow-outbound") {
					t.Errorf("message %q", err)
				}
			}
			if diff := cmp.Diff(tc.out, got); diff != "" {
				t.Errorf("entries not within (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@example.com/a/b?token=1#frag": "https://example.com/a/b",
		"http://example.com":                           "http://example.com",
		"http://example.com/?":                         "http://example.com/",
		"http://[::1]:80/x%20y":                        "http://[::1]:80/x%20y",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Redacted(u); got != want {
			t.Errorf("Redacted(%s) = %s, want %s", in, got, want)
		}
	}
}
