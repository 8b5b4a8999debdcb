package runtime

import (
	"net/http"
	"sync"
	"time"
)

// deadline is the time limit of an instance's requests: one timer and one
// channel, kept from request to request until the limit passes once, which
// ends the instance. The guest needs no context for wazero to watch: it
// checks the channel at its loop and call checks (wasmbin.Instrument) and host
// calls. Arming it costs a timer reset, against a deadline context and an
// AfterFunc a request.
//
// When the limit passes, the timer also sets the deadlines of the request's
// connection (unblock), to wake a guest blocked on a slow client. It must
// never do so once the handler is done with the request: on HTTP/1.1 the
// connection serves the next request, whose reads would fail, and on
// HTTP/2 the stream's writer is gone. disarm therefore waits for a running
// expire and forgets the ResponseWriter.
type deadline struct {
	timer *time.Timer
	done  chan struct{} // closed when the limit passes

	mu sync.Mutex          // held by expire while it touches w
	w  http.ResponseWriter // the response of the request armed for; nil once disarmed
}

// arm starts the limit for the request answered through w and returns the
// channel closed when it passes.
func (d *deadline) arm(w http.ResponseWriter, limit time.Duration) <-chan struct{} {
	d.mu.Lock()
	d.w = w
	d.mu.Unlock()
	if d.timer == nil {
		d.done = make(chan struct{})
		d.timer = time.AfterFunc(limit, d.expire)
	} else {
		d.timer.Reset(limit)
	}
	return d.done
}

// disarm stops the timer and reports whether the limit passed (or was
// passing): then the instance must not serve again. Once it returns, the
// timer no longer touches the request's connection.
func (d *deadline) disarm() bool {
	fired := !d.timer.Stop()
	d.mu.Lock()
	d.w = nil
	d.mu.Unlock()
	return fired
}

func (d *deadline) expire() {
	close(d.done)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w != nil {
		unblock(d.w)
	}
}

// unblock sets the deadlines of the connection of w to now, waking a guest
// blocked reading a slow body or writing to a slow client, with a second
// left to write a 504. Call it only while the handler of w runs.
func unblock(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now())
	rc.SetWriteDeadline(time.Now().Add(time.Second))
}
