package routetest_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/kv"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

func TestTarget(t *testing.T) {
	tests := []struct {
		target              string
		wantPath, wantQuery string
		wantHost            string
		header              http.Header
	}{
		{"/api/query?name=wasm&tag=a", "/api/query", "name=wasm&tag=a", "example.com", nil},
		{"/blog/a%2Fb", "/blog/a%2Fb", "", "example.com", nil},
		{"", "/", "", "example.com", nil},
		{"https://app.test:8443/x%20y?z=1", "/x%20y", "z=1", "app.test:8443", nil},
		{"/", "/", "", "given.test", map[string][]string{"host": {"given.test"}}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			req := routetest.NewRequest("GET", tt.target, nil)
			req.Header = tt.header
			var got [3]string
			routetest.Run(func(w *route.Response, r *route.Request) {
				got = [3]string{r.Path(), r.RawQuery(), r.Header("Host")}
			}, req)
			if diff := cmp.Diff([3]string{tt.wantPath, tt.wantQuery, tt.wantHost}, got); diff != "" {
				t.Errorf("path, query, host (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChunks(t *testing.T) {
	tests := []struct {
		name string
		res  routetest.Result
		want []string
	}{
		{"no flush", routetest.Result{Body: []byte("abc")}, []string{"abc"}},
		{"empty", routetest.Result{}, nil},
		{"flushes", routetest.Result{Body: []byte("aabbc"), Flushes: []int{2, 4}}, []string{"aa", "bb", "c"}},
		{"flush at the end", routetest.Result{Body: []byte("aabb"), Flushes: []int{2, 4}}, []string{"aa", "bb"}},
		{"flush before writing", routetest.Result{Body: []byte("a"), Flushes: []int{0, 0, 1}}, []string{"", "", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.res.Chunks()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunConcurrent checks that parallel runs each see their own request.
func TestRunConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			want := fmt.Sprint(i)
			req := routetest.NewRequest("POST", "/n/"+want, strings.NewReader(want))
			res := routetest.Run(func(w *route.Response, r *route.Request) {
				b, _ := r.ReadAll()
				w.Text(200, r.Path()+" "+string(b))
			}, req)
			if got := string(res.Body); got != "/n/"+want+" "+want {
				t.Errorf("run %d answered %q", i, got)
			}
		})
	}
	wg.Wait()
}

func Example() {
	hello := func(w *route.Response, r *route.Request) {
		w.SetCookie(route.Cookie{Name: "seen", Value: "1"})
		w.JSON(200, map[string]string{"message": "hello " + r.Param("name")})
	}

	req := routetest.NewRequest("GET", "/hello/wasm", nil)
	req.Params = []routetest.Param{{Name: "name", Values: []string{"wasm"}}}
	res := routetest.Run(hello, req)

	fmt.Println(res.Status, res.Header.Get("Content-Type"), res.Header.Get("Set-Cookie"))
	fmt.Println(string(res.Body))
	// Output:
	// 200 application/json seen=1
	// {"message":"hello wasm"}
}

func ExampleResult_Chunks() {
	events := func(w *route.Response, r *route.Request) {
		w.SetHeader("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.Flush()
		}
	}
	res := routetest.Run(events, routetest.NewRequest("GET", "/events", nil))
	fmt.Printf("%q\n", res.Chunks())
	// Output:
	// ["data: 0\n\n" "data: 1\n\n" "data: 2\n\n"]
}

func ExampleFetchHandler() {
	// weather calls an upstream API and answers its temperature.
	weather := func(w *route.Response, r *route.Request) {
		resp, err := route.Get("https://api.weather.test/v1?city=" + r.Query().Get("city"))
		if err != nil {
			w.Text(502, err.Error())
			return
		}
		var report struct{ Temp float64 }
		if err := resp.JSON(&report); err != nil {
			w.Text(502, err.Error())
			return
		}
		w.JSON(200, map[string]any{"temp": report.Temp})
	}

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"temp":%d}`, len(r.URL.Query().Get("city")))
	})
	req := routetest.NewRequest("GET", "/weather?city=Oslo", nil)
	req.Fetch = routetest.FetchHandler(api)
	fmt.Println(string(routetest.Run(weather, req).Body))

	// Without Fetch, every outbound request is denied, as on a host whose
	// route has no allowedOutboundHosts.
	res := routetest.Run(weather, routetest.NewRequest("GET", "/weather?city=Oslo", nil))
	fmt.Println(res.Status, string(res.Body))
	// Output:
	// {"temp":4}
	// 502 fetch https://api.weather.test/v1?city=Oslo: denied: add "https://api.weather.test" to allowedOutboundHosts (in a test: set routetest.Request.Fetch)
}

func ExampleKV() {
	remember := func(w *route.Response, r *route.Request) {
		name, err := kv.GetString("name")
		if errors.Is(err, kv.ErrNotFound) {
			name = "stranger"
		}
		kv.SetString("name", r.Query().Get("name"), kv.TTL(time.Hour))
		w.Text(200, "last time: "+name)
	}
	store := &routetest.KV{}
	for _, name := range []string{"ada", "grace"} {
		req := routetest.NewRequest("GET", "/remember?name="+name, nil)
		req.KV = store
		fmt.Println(string(routetest.Run(remember, req).Body))
	}
	fmt.Println(store.Keys())
	// Output:
	// last time: stranger
	// last time: ada
	// [name]
}
