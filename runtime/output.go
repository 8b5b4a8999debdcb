package runtime

import (
	"strconv"
	"strings"
	"sync"
)

// maxGuestOutput bounds what one call of a guest may write to stdout and
// stderr together; the rest is dropped and counted.
const maxGuestOutput = 64 << 10

// guestOutput collects a guest's stdout and stderr during one call, so that
// what it printed (a Go panic's stack, say) is logged with its route.
type guestOutput struct {
	mu      sync.Mutex
	buf     strings.Builder
	dropped int
}

func (o *guestOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	room := maxGuestOutput - o.buf.Len()
	if len(p) > room {
		o.dropped += len(p) - room
		o.buf.Write(p[:room])
	} else {
		o.buf.Write(p)
	}
	return len(p), nil
}

// take returns what was written since the last take and resets.
func (o *guestOutput) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() == 0 && o.dropped == 0 {
		return ""
	}
	s := strings.TrimRight(o.buf.String(), "\n")
	if o.dropped > 0 {
		s += "\n… " + strconv.Itoa(o.dropped) + " more bytes dropped"
	}
	o.buf.Reset()
	o.dropped = 0
	return s
}
