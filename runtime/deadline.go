package runtime

import (
	"net/http"
	"time"
)

// deadline is the time limit of the requests of an instrumented instance
// (instrument.go): one timer and one channel, kept from request to request
// until the limit passes once, which ends the instance. Such a guest needs
// no context for wazero to watch: it checks the channel in its loops and
// host calls. Arming it costs a timer reset, against a deadline context
// and an AfterFunc a request.
type deadline struct {
	timer *time.Timer
	done  chan struct{}       // closed when the limit passes
	w     http.ResponseWriter // the response of the request armed for
}

// arm starts the limit for the request answered through w and returns the
// channel closed when it passes.
func (d *deadline) arm(w http.ResponseWriter, limit time.Duration) <-chan struct{} {
	d.w = w
	if d.timer == nil {
		d.done = make(chan struct{})
		d.timer = time.AfterFunc(limit, d.expire)
	} else {
		d.timer.Reset(limit)
	}
	return d.done
}

// disarm stops the timer and reports whether the limit passed (or is
// passing): then the instance must not serve again.
func (d *deadline) disarm() bool { return !d.timer.Stop() }

// expired reports whether the limit has passed.
func (d *deadline) expired() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *deadline) expire() {
	close(d.done)
	unblock(d.w)
}

// unblock sets the deadlines of the connection of w to now, waking a guest
// blocked reading a slow body or writing to a slow client, with a second
// left to write a 504.
func unblock(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now())
	rc.SetWriteDeadline(time.Now().Add(time.Second))
}
