package runtime

import (
	"bytes"
	"testing"
)

// TestImageMemories writes into memories made from an image, the
// copy-on-write mapping (Linux) and the plain copy (elsewhere, and the
// fallback), resets them, and checks that they hold the image again; grown
// past the image, they cannot be reset.
func TestImageMemories(t *testing.T) {
	mem := make([]byte, 4*wasmPageSize)
	for i := range mem {
		if i%3 == 0 && i < 2*wasmPageSize { // some pages data, the rest zero
			mem[i] = byte(i)
		}
	}
	img, err := newImage(mem)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.data, mem) {
		t.Fatal("the image differs from the memory it was made from")
	}
	const max = 16 * wasmPageSize
	for name, lm := range map[string]linearMemory{"newMemory": img.newMemory(max), "copyMemory": copyMemory(img, max)} {
		t.Run(name, func(t *testing.T) {
			defer lm.release()
			buf := lm.Reallocate(uint64(len(mem)))
			if !bytes.Equal(buf, mem) {
				t.Fatal("a new memory does not hold the image")
			}
			for round := range 3 {
				for _, off := range []int{0, 5000, 2*wasmPageSize + 7, len(mem) - 1} {
					buf[off] = byte(round + 1)
				}
				if !lm.reset() {
					t.Fatal("reset failed")
				}
				if !bytes.Equal(buf, mem) {
					t.Fatalf("round %d: the memory differs from the image after reset", round)
				}
			}
			grown := lm.Reallocate(uint64(len(mem)) + wasmPageSize)
			if len(grown) != len(mem)+wasmPageSize || !bytes.Equal(grown[:len(mem)], mem) || !isZero(grown[len(mem):]) {
				t.Fatal("growing lost the image or did not add zero pages")
			}
			if lm.reset() {
				t.Error("a memory grown past its image was reset")
			}
			if lm.Reallocate(max+1) != nil {
				t.Error("grew past max")
			}
		})
	}
}
