package runtime

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hostilePathsRoute is the route folder of the paths guest, a catch-all.
const hostilePathsRoute = "paths/[...path]"

// hostilePathCases are requests to the paths guest that try to get a path
// out of its root through its catch-all param: each must reach it decoded
// and unchecked (ParamValues, Param) and be refused by ParamPath, while
// ordinary paths pass. The client follows redirects: a literal "..", "."
// or "//" is cleaned by a 308 before it is routed.
func hostilePathCases() []hostileCase {
	const root = "/srv/files"
	const unsafe = "route: param is not a safe path: "
	answer := func(values []string, path, err string) string {
		s := fmt.Sprintf("values %q\nparam %q\n", values, strings.Join(values, "/"))
		if err != "" {
			return s + fmt.Sprintf("error %q\n", unsafe+err)
		}
		return s + fmt.Sprintf("path %q\n", path)
	}
	ok := func(name, target string, values []string, path string) hostileCase {
		return hostileCase{name: "paths/" + name, target: target, status: 200, within: 5 * time.Second,
			check: hostileBody(answer(values, path, ""))}
	}
	refused := func(name, target string, values []string, err string) hostileCase {
		return hostileCase{name: "paths/" + name, target: target, status: 200, within: 5 * time.Second,
			check: hostileBody(answer(values, "", err))}
	}
	return []hostileCase{
		ok("plain", "/paths/docs/intro.md", []string{"docs", "intro.md"}, root+"/docs/intro.md"),
		ok("UTF-8", "/paths/caf%C3%A9/r%C3%A9sum%C3%A9.txt", []string{"café", "résumé.txt"}, root+"/café/résumé.txt"),
		ok("decoded once", "/paths/a%252Fb", []string{"a%2Fb"}, root+"/a%2Fb"),
		ok("literal dots redirected", "/paths/x/../../paths/y/./z", []string{"y", "z"}, root+"/y/z"),
		ok("empty segment redirected", "/paths/a//b", []string{"a", "b"}, root+"/a/b"),
		refused("%2e%2e", "/paths/%2e%2e/%2E%2E/etc/passwd", []string{"..", "..", "etc", "passwd"},
			`param "path", segment 1 "..": a dot segment`),
		refused(".%2e", "/paths/x/.%2e", []string{"x", ".."}, `param "path", segment 2 "..": a dot segment`),
		refused("%2e", "/paths/%2e", []string{"."}, `param "path", segment 1 ".": a dot segment`),
		refused("%2F", "/paths/..%2F..%2Fetc%2Fpasswd", []string{"../../etc/passwd"},
			`param "path", segment 1 "../../etc/passwd": holds a slash or backslash`),
		refused("%2F absolute", "/paths/%2Fetc%2Fpasswd", []string{"/etc/passwd"},
			`param "path", segment 1 "/etc/passwd": holds a slash or backslash`),
		refused("%5C", "/paths/..%5C..%5Cwin.ini", []string{`..\..\win.ini`},
			`param "path", segment 1 "..\\..\\win.ini": holds a slash or backslash`),
		refused("%00", "/paths/passwd%00.png", []string{"passwd\x00.png"}, `param "path", segment 1 "passwd\x00.png": holds NUL`),
		refused("%ff", "/paths/ok/%ff", []string{"ok", "\xff"}, `param "path", segment 2 "\xff": not valid UTF-8`),
		refused("overlong %c0%ae", "/paths/%c0%ae%c0%ae/x", []string{"\xc0\xae\xc0\xae", "x"},
			`param "path", segment 1 "\xc0\xae\xc0\xae": not valid UTF-8`),
		{name: "paths/no segment", target: "/paths", status: 404, within: 5 * time.Second},
	}
}

// TestHostilePaths sends hostilePathCases over a real HTTP server while the
// healthy routes keep answering. TestHostile and TestHostileLeaks run them
// too, among the other attacks.
func TestHostilePaths(t *testing.T) {
	e := newHostileEnv(t, hostilePathsRoute)
	p := e.probe(hostileHealthy...)
	e.runCases(t, hostilePathCases(), 2)
	// Go's client refuses to send an invalid escape: write the request.
	t.Run("paths/invalid escape", func(t *testing.T) {
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET /paths/%%zz HTTP/1.1\r\nHost: hostile.%s\r\nConnection: close\r\n\r\n", hostileDomain)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || strings.Contains(string(b), "values") {
			t.Errorf("GET /paths/%%zz: %d %q; want 400 from the HTTP server, the guest never called", res.StatusCode, b)
		}
		e.healthy(t)
	})
	p.check(t)
}
