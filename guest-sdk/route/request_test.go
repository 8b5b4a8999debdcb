package route_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

// see runs get inside a handler serving req and returns what it returned.
func see[T any](t *testing.T, req *routetest.Request, get func(r *route.Request) T) T {
	t.Helper()
	var got T
	res := routetest.Run(func(_ *route.Response, r *route.Request) { got = get(r) }, req)
	if res.Panic != nil {
		t.Fatalf("handler panicked: %v\n%s", res.Panic, res.Stack)
	}
	return got
}

func TestRequestAccessors(t *testing.T) {
	long := strings.Repeat("v", 10_000) // far past the first buffer: exercises growing it
	base := func() *routetest.Request {
		req := routetest.NewRequest("PATCH", "/blog/hello%20world?name=wasm&tag=a&tag=b&empty=", nil)
		req.Header = http.Header{
			"X-Demo":    {"42"},
			"X-Multi":   {"one", "two", "three"},
			"X-Long":    {long},
			"Cookie":    {`session=abc; theme="dark"; enc=a%20b%3Bc; bad name=x; =nameless; broken=%zz`, "late=1"},
			"Accept":    {"text/html", "*/*"},
			"X-Empty":   {""},
			"X-Unicode": {"héllo"},
		}
		req.Params = []routetest.Param{
			{Name: "slug", Values: []string{"hello world"}},
			{Name: "path", Values: []string{"a", "b", "c"}},
			{Name: "opt", Values: nil},
		}
		req.RemoteAddr = "203.0.113.9:5555"
		req.Protocol = "HTTP/2.0"
		return req
	}
	tests := []struct {
		name string
		get  func(r *route.Request) any
		want any
	}{
		{"Method", func(r *route.Request) any { return r.Method() }, "PATCH"},
		{"Path escaped", func(r *route.Request) any { return r.Path() }, "/blog/hello%20world"},
		{"RawQuery", func(r *route.Request) any { return r.RawQuery() }, "name=wasm&tag=a&tag=b&empty="},
		{"Query", func(r *route.Request) any { return r.Query() },
			url.Values{"name": {"wasm"}, "tag": {"a", "b"}, "empty": {""}}},
		{"Query twice is the same map", func(r *route.Request) any {
			r.Query().Set("added", "x")
			return r.Query().Get("added")
		}, "x"},
		{"Protocol", func(r *route.Request) any { return r.Protocol() }, "HTTP/2.0"},
		{"RemoteAddr", func(r *route.Request) any { return r.RemoteAddr() }, "203.0.113.9:5555"},
		{"Header", func(r *route.Request) any { return r.Header("X-Demo") }, "42"},
		{"Header any case", func(r *route.Request) any { return r.Header("x-dEMo") }, "42"},
		{"Header first of several", func(r *route.Request) any { return r.Header("x-multi") }, "one"},
		{"Header absent", func(r *route.Request) any { return r.Header("X-Absent") }, ""},
		{"Header empty value", func(r *route.Request) any { return r.HeaderValues("X-Empty") }, []string{""}},
		{"Header long value", func(r *route.Request) any { return r.Header("X-Long") }, long},
		{"Header non-ASCII", func(r *route.Request) any { return r.Header("X-Unicode") }, "héllo"},
		{"HeaderValues", func(r *route.Request) any { return r.HeaderValues("x-multi") }, []string{"one", "two", "three"}},
		{"HeaderValues absent", func(r *route.Request) any { return r.HeaderValues("X-Absent") == nil }, true},
		{"HeaderNames", func(r *route.Request) any { return r.HeaderNames() },
			[]string{"accept", "cookie", "host", "x-demo", "x-empty", "x-long", "x-multi", "x-unicode"}},
		{"Param", func(r *route.Request) any { return r.Param("slug") }, "hello world"},
		{"Param catch-all joined", func(r *route.Request) any { return r.Param("path") }, "a/b/c"},
		{"Param optional catch-all empty", func(r *route.Request) any { return r.Param("opt") }, ""},
		{"Param unknown", func(r *route.Request) any { return r.Param("nope") }, ""},
		{"ParamValues catch-all", func(r *route.Request) any { return r.ParamValues("path") }, []string{"a", "b", "c"}},
		{"ParamValues optional catch-all empty is not nil", func(r *route.Request) any {
			v := r.ParamValues("opt")
			return v != nil && len(v) == 0
		}, true},
		{"ParamValues unknown is nil", func(r *route.Request) any { return r.ParamValues("nope") == nil }, true},
		{"ParamNames", func(r *route.Request) any { return r.ParamNames() }, []string{"slug", "path", "opt"}},
		{"Cookie", func(r *route.Request) any { v, ok := r.Cookie("session"); return []any{v, ok} }, []any{"abc", true}},
		{"Cookie quoted", func(r *route.Request) any { v, _ := r.Cookie("theme"); return v }, "dark"},
		{"Cookie percent-decoded", func(r *route.Request) any { v, _ := r.Cookie("enc"); return v }, "a b;c"},
		{"Cookie bad escape kept", func(r *route.Request) any { v, _ := r.Cookie("broken"); return v }, "%zz"},
		{"Cookie from second header", func(r *route.Request) any { v, _ := r.Cookie("late"); return v }, "1"},
		{"Cookie absent", func(r *route.Request) any { v, ok := r.Cookie("nope"); return []any{v, ok} }, []any{"", false}},
		{"Cookies skips bad names", func(r *route.Request) any { return r.Cookies() }, []route.Cookie{
			{Name: "session", Value: "abc"}, {Name: "theme", Value: "dark"}, {Name: "enc", Value: "a b;c"},
			{Name: "broken", Value: "%zz"}, {Name: "late", Value: "1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := see(t, base(), tt.get)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestDefaults(t *testing.T) {
	type seen struct {
		Method, Path, RawQuery, Proto, Remote, Host string
		Query                                       url.Values
		Names                                       []string
		Cookies                                     []route.Cookie
		Body                                        string
	}
	got := see(t, &routetest.Request{}, func(r *route.Request) seen {
		b, _ := r.ReadAll()
		return seen{r.Method(), r.Path(), r.RawQuery(), r.Protocol(), r.RemoteAddr(),
			r.Header("host"), r.Query(), r.ParamNames(), r.Cookies(), string(b)}
	})
	want := seen{"GET", "/", "", "HTTP/1.1", "192.0.2.1:1234", "example.com", url.Values{}, nil, nil, ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRequestBody(t *testing.T) {
	big := make([]byte, 1<<20)
	rand.Read(big)
	type result struct {
		Body string
		Err  string
	}
	tests := []struct {
		name  string
		body  string
		limit int64
		read  func(r *route.Request) ([]byte, error)
		want  result
	}{
		{"ReadAll", "hello", 0, (*route.Request).ReadAll, result{Body: "hello"}},
		{"ReadAll empty", "", 0, (*route.Request).ReadAll, result{}},
		{"ReadAll at the limit", "0123456789", 10, (*route.Request).ReadAll, result{Body: "0123456789"}},
		{"ReadAll past the limit", "0123456789abc", 10, (*route.Request).ReadAll,
			result{Body: "0123456789", Err: route.ErrTooLarge.Error()}},
		{"Body read twice", "abc", 0, func(r *route.Request) ([]byte, error) {
			first, _ := io.ReadAll(r.Body())
			second, err := io.ReadAll(r.Body())
			return append(first, second...), err
		}, result{Body: "abc"}},
		{"zero-length read", "abc", 0, func(r *route.Request) ([]byte, error) {
			n, err := r.Body().Read(nil)
			return []byte{byte('0' + n)}, err
		}, result{Body: "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := routetest.NewRequest("POST", "/", strings.NewReader(tt.body))
			req.BodyLimit = tt.limit
			got := see(t, req, func(r *route.Request) result {
				b, err := tt.read(r)
				res := result{Body: string(b)}
				if err != nil {
					res.Err = err.Error()
				}
				return res
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("1 MiB in chunks", func(t *testing.T) {
		src := &countingReader{r: bytes.NewReader(big)}
		req := routetest.NewRequest("POST", "/", src)
		var reads int
		got := see(t, req, func(r *route.Request) []byte {
			var out bytes.Buffer
			buf := make([]byte, 16<<10)
			for {
				n, err := r.Body().Read(buf)
				out.Write(buf[:n])
				reads++
				if err == io.EOF {
					return out.Bytes()
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		})
		if !bytes.Equal(got, big) {
			t.Fatalf("read %d bytes, not the %d sent", len(got), len(big))
		}
		if reads < 64 || src.max > 16<<10 {
			t.Errorf("%d reads of at most %d bytes; want >= 64 reads of at most 16 KiB", reads, src.max)
		}
	})

	t.Run("body fails", func(t *testing.T) {
		req := routetest.NewRequest("POST", "/", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errors.New("reset"))))
		var got []byte
		var err error
		routetest.Run(func(w *route.Response, r *route.Request) { got, err = r.ReadAll() }, req)
		if string(got) != "abc" || !errors.Is(err, route.ErrClosed) {
			t.Errorf("ReadAll = %q, %v; want \"abc\", ErrClosed", got, err)
		}
	})

	t.Run("client gone", func(t *testing.T) {
		req := routetest.NewRequest("POST", "/", strings.NewReader("abc"))
		req.CloseAfterFlushes = 1
		var got error
		routetest.Run(func(w *route.Response, r *route.Request) {
			w.Flush()
			_, got = r.ReadAll()
		}, req)
		if !errors.Is(got, route.ErrClosed) {
			t.Errorf("got %v, want ErrClosed", got)
		}
	})
}

// countingReader records the largest read asked of it.
type countingReader struct {
	r   io.Reader
	max int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.max = max(c.max, len(p))
	return c.r.Read(p)
}

func TestDecodeJSON(t *testing.T) {
	type payload struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	tests := []struct {
		name    string
		body    string
		want    payload
		wantErr bool
	}{
		{"object", `{"name":"wasm","tags":["a","b"]}`, payload{"wasm", []string{"a", "b"}}, false},
		{"surrounding space", " \n{\"name\":\"x\"}\n ", payload{Name: "x"}, false},
		{"trailing value", `{"name":"x"} {}`, payload{Name: "x"}, true},
		{"malformed", `{"name":`, payload{}, true},
		{"empty", ``, payload{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got payload
			err := see(t, routetest.NewRequest("POST", "/", strings.NewReader(tt.body)),
				func(r *route.Request) error { return r.DecodeJSON(&got) })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
