//go:build wasip1

// clock checks that the sandbox's clocks and randomness are real, not
// wazero's fakes: GET answers the wall clock, the monotonic time a 20ms
// sleep took, and two 16-byte crypto/rand reads; with ?exit=1 it then exits
// cleanly so that the next request gets a fresh instance.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		start := time.Now()
		time.Sleep(20 * time.Millisecond)
		slept := time.Since(start)
		w.JSON(200, map[string]any{
			"now":   time.Now().UnixNano(),
			"slept": slept.Nanoseconds(),
			"rand":  []string{random(), random()},
		})
		if r.Query().Get("exit") == "1" {
			os.Exit(0)
		}
	})
}

func main() {}
