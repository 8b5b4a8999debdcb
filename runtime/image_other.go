//go:build !linux

package runtime

// image is a snapshot's linear memory, shared by the instances made from it.
// Outside Linux it is a Go byte slice, and each instance gets a copy.
type image struct {
	data []byte
}

func newImage(mem []byte) (*image, error) {
	return &image{data: append([]byte(nil), mem...)}, nil
}

func (img *image) newMemory(max uint64) linearMemory { return copyMemory(img, max) }
