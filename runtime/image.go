package runtime

import "github.com/tetratelabs/wazero/experimental"

// linearMemory backs the linear memory of an instance restored from a
// snapshot's image.
type linearMemory interface {
	experimental.LinearMemory
	// reset puts the memory back to the image. It reports false when it
	// cannot (the memory grew past the image): the instance must go.
	reset() bool
	// release gives the memory back to the system. Only the instance's
	// owner calls it, never during a call: wazero's Free may run while
	// another goroutine is still inside the module, so it does nothing.
	release()
}

// sliceMemory is a linear memory in the Go heap.
type sliceMemory struct {
	buf  []byte
	max  uint64
	init []byte // what reset restores; nil: cannot reset
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	switch {
	case size > m.max:
		return nil
	case size <= uint64(cap(m.buf)):
		m.buf = m.buf[:size]
	default:
		grown := make([]byte, size, min(max(size, 2*uint64(cap(m.buf))), m.max))
		copy(grown, m.buf)
		m.buf = grown
	}
	return m.buf
}

func (m *sliceMemory) Free() {}

func (m *sliceMemory) reset() bool {
	if m.init == nil || len(m.buf) != len(m.init) {
		return false
	}
	copy(m.buf, m.init)
	return true
}

func (m *sliceMemory) release() { m.buf = nil }

// copyMemory is the portable way to start an instance from an image: a
// private copy, reset by copying the whole image back.
func copyMemory(img []byte, max uint64) *sliceMemory {
	buf := make([]byte, len(img))
	copy(buf, img)
	return &sliceMemory{buf: buf, max: max, init: img}
}
