//go:build wasip1

// echo streams the request body back as it arrives: POST reads a chunk,
// writes it and flushes it, until the body ends. A client that waits for
// each chunk's echo before sending the next holds a duplex conversation.
package main

import (
	"io"

	"github.com/wasmroute/wasmroute/guest-sdk/route"
)

//go:wasmexport POST
func post() {
	route.Serve(func(w *route.Response, r *route.Request) {
		w.SetHeader("Content-Type", "application/octet-stream")
		buf := make([]byte, 32<<10)
		body := r.Body()
		for {
			n, err := body.Read(buf)
			if n > 0 {
				if _, err := w.Write(buf[:n]); err != nil {
					return
				}
				if err := w.Flush(); err != nil {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				// Visible to the client: a body that ends early fails
				// its comparison with this line in it.
				w.WriteString("\n!echo: " + err.Error())
				return
			}
		}
	})
}

func main() {}
