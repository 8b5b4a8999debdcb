package runtime

import (
	"encoding/binary"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux an image lives in a memfd, and each instance's memory is a
// private (copy-on-write) mapping of it: the pages an instance never writes
// stay shared by all of them, and a reset finds the pages the request wrote
// in /proc/self/pagemap — a written page of a private file mapping is
// anonymous — and copies just those back.

// image is a snapshot's linear memory, shared by the instances made from it.
type image struct {
	data []byte // the bytes: a read-only shared mapping of fd
	fd   int
}

var pageSize = os.Getpagesize()

// newImage copies mem into a new image. The image is released when no
// snapshot or instance refers to it any more.
func newImage(mem []byte) (*image, error) {
	fd, err := unix.MemfdCreate("wasmroute-snapshot", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	fail := func(name string, err error) (*image, error) {
		unix.Close(fd)
		return nil, os.NewSyscallError(name, err)
	}
	if err := unix.Ftruncate(fd, int64(len(mem))); err != nil {
		return fail("ftruncate", err)
	}
	// Write only the pages that are not zero: the rest stay holes.
	for off := 0; off < len(mem); {
		end := off + pageSize
		if isZero(mem[off:end]) {
			off = end
			continue
		}
		for end < len(mem) && !isZero(mem[end:end+pageSize]) {
			end += pageSize
		}
		for b := mem[off:end]; len(b) > 0; {
			n, err := unix.Pwrite(fd, b, int64(end-len(b)))
			if err != nil {
				return fail("pwrite", err)
			}
			b = b[n:]
		}
		off = end
	}
	var data []byte
	if len(mem) > 0 { // (an empty mapping is EINVAL)
		var err error
		if data, err = unix.Mmap(fd, 0, len(mem), unix.PROT_READ, unix.MAP_SHARED); err != nil {
			return fail("mmap", err)
		}
	}
	img := &image{data: data, fd: fd}
	runtime.AddCleanup(img, func(r image) {
		unix.Munmap(r.data)
		unix.Close(r.fd)
	}, *img)
	return img, nil
}

// newMemory returns a memory holding the image, able to grow to max bytes.
func (img *image) newMemory(max uint64) linearMemory {
	if max < uint64(len(img.data)) || len(img.data)%pageSize != 0 {
		return copyMemory(img, max)
	}
	// Reserve max bytes of address space, then map the image over its start.
	base, err := unix.MmapPtr(-1, 0, nil, uintptr(max), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return copyMemory(img, max)
	}
	if len(img.data) > 0 {
		if _, err := unix.MmapPtr(img.fd, 0, base, uintptr(len(img.data)), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
			unix.MunmapPtr(base, uintptr(max))
			return copyMemory(img, max)
		}
	}
	return &cowMemory{img: img, all: unsafe.Slice((*byte)(base), max)}
}

// cowMemory is an instance's private mapping of an image.
type cowMemory struct {
	img     *image
	all     []byte // the reserved address space
	size    uint64 // the memory's current size
	entries []byte // pagemap entries, kept between resets
}

func (m *cowMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.all)) {
		return nil
	}
	m.size = size
	return m.all[:size:size]
}

func (m *cowMemory) Free() {}

func (m *cowMemory) release() {
	if m.all != nil {
		unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(m.all)), uintptr(len(m.all)))
		m.all = nil
	}
}

// pagemap is /proc/self/pagemap, opened once; nil where it cannot be read.
var pagemap = sync.OnceValue(func() *os.File {
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return nil
	}
	return f
})

const (
	pagemapPresent  = 1 << 63
	pagemapSwapped  = 1 << 62
	pagemapFilePage = 1 << 61
)

func (m *cowMemory) reset() bool {
	img := m.img.data
	if m.size != uint64(len(img)) || m.all == nil {
		return false
	}
	mem := m.all[:len(img)]
	pm := pagemap()
	if pm == nil {
		copy(mem, img)
		return true
	}
	pages := len(img) / pageSize
	if cap(m.entries) < 8*pages {
		m.entries = make([]byte, 8*pages)
	}
	entries := m.entries[:8*pages]
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	if n, _ := pm.ReadAt(entries, int64(base/uintptr(pageSize)*8)); n != len(entries) {
		copy(mem, img) // the slow way, still right
		return true
	}
	// Copy back each run of written pages.
	for i := 0; i < pages; {
		if !written(entries, i) {
			i++
			continue
		}
		j := i + 1
		for j < pages && written(entries, j) {
			j++
		}
		copy(mem[i*pageSize:j*pageSize], img[i*pageSize:j*pageSize])
		i = j
	}
	return true
}

// written reports whether page i, per its pagemap entry, has its own copy:
// present or swapped, and not the file's page.
func written(entries []byte, i int) bool {
	e := binary.LittleEndian.Uint64(entries[8*i:])
	return e&(pagemapPresent|pagemapSwapped) != 0 && e&pagemapFilePage == 0
}
