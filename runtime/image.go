package runtime

import (
	"encoding/binary"

	"github.com/tetratelabs/wazero/experimental"
)

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
	buf []byte
	max uint64
	img *image // what reset restores (and keeps mapped); nil: cannot reset
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
	if m.img == nil || len(m.buf) != len(m.img.data) {
		return false
	}
	copy(m.buf, m.img.data)
	return true
}

func (m *sliceMemory) release() { m.buf = nil }

// copyMemory is the portable way to start an instance from an image: a
// private copy, reset by copying the whole image back.
func copyMemory(img *image, max uint64) *sliceMemory {
	buf := make([]byte, len(img.data))
	copy(buf, img.data)
	return &sliceMemory{buf: buf, max: max, img: img}
}

// isZero reports whether b holds only zeros.
func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
