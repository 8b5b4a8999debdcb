package routes_test

import (
	"fmt"

	"github.com/wasmroute/wasmroute/internal/routes"
)

func ExampleTable_Lookup() {
	table, err := routes.Build([]string{"", "blog/new", "blog/[slug]", "docs/[...path]", "(admin)/stats"})
	if err != nil {
		panic(err)
	}
	for _, path := range []string{"/blog/new", "/blog/hello%20world", "/docs/a/b", "/stats", "/nope/x"} {
		r, ps, ok := table.Lookup(path, nil)
		if !ok {
			fmt.Println(path, "-> not found")
			continue
		}
		fmt.Println(path, "->", r.Pattern, "in app/"+r.Dir)
		for _, p := range ps {
			fmt.Printf("\t%s = %q\n", p.Name, p.Values())
		}
	}
	// Output:
	// /blog/new -> /blog/new in app/blog/new
	// /blog/hello%20world -> /blog/[slug] in app/blog/[slug]
	// 	slug = ["hello world"]
	// /docs/a/b -> /docs/[...path] in app/docs/[...path]
	// 	path = ["a" "b"]
	// /stats -> /stats in app/(admin)/stats
	// /nope/x -> not found
}

func ExampleBuild_errors() {
	_, err := routes.Build([]string{"blog/[id]", "blog/[slug]", "(a)/x", "(b)/x", "[...all]/edit"})
	fmt.Println(err)
	// Output:
	// app/(a)/x, app/(b)/x: both resolve to /x; keep one
	// app/[...all]/edit: catch-all [...all] is not the last segment (edit follows it); a catch-all takes the rest of the path, so no route can be under it
	// app/blog/[id], app/blog/[slug]: different param names at the same level ([id] vs [slug]); use one name
}
