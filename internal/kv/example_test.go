package kv_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wasmroute/wasmroute/internal/kv"
)

// A project's namespace in an embedded store: a counter, a value that
// expires, and the keys listed by prefix.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "kv-example-")
	defer os.RemoveAll(dir)

	st, err := kv.Open(ctx, kv.Config{Dir: dir}) // kv.Config{URL: "redis://host:6379"} for replicas
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	ns, err := st.Namespace("blog", kv.Limits{MaxKeys: 100})
	if err != nil {
		fmt.Println(err)
		return
	}

	n, _ := ns.Incr(ctx, "views:home", 1)
	n, _ = ns.Incr(ctx, "views:home", 1)
	fmt.Println("views:", n)
	ns.Set(ctx, "views:about", []byte("7"), 0)
	ns.Set(ctx, "session:abc", []byte(`{"user":1}`), 30*time.Minute)
	keys, _ := ns.List(ctx, "views:")
	fmt.Println(keys)
	v, _ := ns.Get(ctx, "views:home")
	fmt.Printf("%s\n", v)
	_, err = ns.Get(ctx, "nope")
	fmt.Println(err)
	// Output:
	// views: 2
	// [views:about views:home]
	// 2
	// kv get "nope": no such key
}
