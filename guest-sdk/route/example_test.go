package route_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

func ExampleResponse_SetCookie() {
	login := func(w *route.Response, r *route.Request) {
		w.SetCookie(route.Cookie{
			Name: "session", Value: "abc 123", Path: "/", MaxAge: 3600,
			HttpOnly: true, Secure: true, SameSite: route.SameSiteLax,
		})
		w.SetCookie(route.Cookie{Name: "theme", Value: "dark", Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)})
		w.DeleteCookie("old")
		w.Redirect("/account")
	}
	res := routetest.Run(login, routetest.NewRequest("POST", "/login", nil))
	fmt.Println(res.Status, res.Header.Get("Location"))
	for _, c := range res.Header.Values("Set-Cookie") {
		fmt.Println(c)
	}
	// Output:
	// 307 /account
	// session=abc%20123; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax
	// theme=dark; Expires=Wed, 02 Jan 2030 03:04:05 GMT
	// old=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0
}

func ExampleRequest_ParamValues() {
	files := func(w *route.Response, r *route.Request) {
		w.JSON(200, map[string][]string{"path": r.ParamValues("path")})
	}
	for _, segments := range [][]string{{"x", "y"}, nil} {
		req := routetest.NewRequest("GET", "/files", nil)
		req.Params = []routetest.Param{{Name: "path", Values: segments}}
		fmt.Println(string(routetest.Run(files, req).Body))
	}
	// Output:
	// {"path":["x","y"]}
	// {"path":[]}
}

func ExampleFetchAll() {
	// dashboard asks two upstream services at the same time.
	dashboard := func(w *route.Response, r *route.Request) {
		resps, err := route.FetchAll(
			&route.FetchRequest{URL: "https://users.test/me"},
			&route.FetchRequest{URL: "https://orders.test/recent"},
		)
		if err != nil {
			w.Text(502, err.Error())
			return
		}
		var out []any
		for _, resp := range resps {
			b, _ := resp.ReadAll()
			out = append(out, string(b))
		}
		w.JSON(200, out)
	}
	req := routetest.NewRequest("GET", "/dashboard", nil)
	req.Fetch = routetest.FetchHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Host+r.URL.Path)
	}))
	fmt.Println(string(routetest.Run(dashboard, req).Body))
	// Output:
	// ["users.test/me","orders.test/recent"]
}
