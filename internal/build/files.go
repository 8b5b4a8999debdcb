package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
)

// The files a build writes in a project (route.wasm, middleware.wasm,
// DepsFile) are written through an os.Root of their folder, as a temporary
// file beside them that a rename puts in place, and only over a regular
// file or none: a project is often someone else's (a clone), and a name
// in it that is a symlink would have the write land wherever it points,
// outside the project. A rename replaces the link itself.

// createTemp creates, in dir, a new file named after name
// (".name.tmp-123"), which no other process had, and returns its name.
func createTemp(dir *os.Root, name string) (string, *os.File, error) {
	for {
		tmp := "." + name + ".tmp-" + strconv.FormatUint(uint64(rand.Uint32()), 10)
		f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			return tmp, f, err
		}
	}
}

// regularOrNone reports whether name in dir is a regular file (not a
// symlink), or an error saying what else it is; false if there is none.
func regularOrNone(dir *os.Root, name string) (bool, error) {
	fi, err := dir.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s, not a file: wasmroute build writes the file itself and writes through no link: remove it", describeMode(fi.Mode()))
	}
	return true, nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsDir():
		return "a folder"
	}
	return "a special file"
}

// sameContent reports whether the files a and b in dir hold the same
// bytes.
func sameContent(dir *os.Root, a, b string) (bool, error) {
	fa, err := dir.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := dir.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, errA := io.ReadFull(fa, ba)
		nb, errB := io.ReadFull(fb, bb)
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		eofA := errors.Is(errA, io.EOF) || errors.Is(errA, io.ErrUnexpectedEOF)
		eofB := errors.Is(errB, io.EOF) || errors.Is(errB, io.ErrUnexpectedEOF)
		switch {
		case errA != nil && !eofA:
			return false, errA
		case errB != nil && !eofB:
			return false, errB
		case eofA || eofB:
			return eofA == eofB, nil
		}
	}
}
