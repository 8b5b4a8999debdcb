//go:build wasip1

// state tries to see what the requests before it left behind: GET answers
// how many requests this instance served before, the secret the previous
// request was given (?secret=), how many entries its map holds, a
// crypto/rand and a math/rand value. ?grow=N first allocates and keeps N
// MiB, growing the linear memory past its snapshot.
package main

import (
	"crypto/rand"
	"encoding/hex"
	mathrand "math/rand/v2"
	"strconv"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

var (
	served int
	secret string
	seen   = map[string]bool{}
	kept   [][]byte
)

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		q := r.Query()
		if n, _ := strconv.Atoi(q.Get("grow")); n > 0 {
			for range n {
				b := make([]byte, 1<<20)
				for i := range b {
					b[i] = 1
				}
				kept = append(kept, b)
			}
		}
		random := make([]byte, 16)
		rand.Read(random)
		w.JSON(200, map[string]any{
			"served":   served,
			"secret":   secret,
			"seen":     len(seen),
			"random":   hex.EncodeToString(random),
			"mathrand": mathrand.Uint64(),
		})
		served++
		secret = q.Get("secret")
		seen[secret] = true
	})
}

func main() {}
