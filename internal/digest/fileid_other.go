//go:build !unix

package digest

import "os"

// fileID names a file or folder on its system; elsewhere than unix none is
// read, and only links back to an ancestor stop a walk (maxEntries and
// maxBytes bound the rest).
type fileID struct{}

func idOf(os.FileInfo) (fileID, bool) { return fileID{}, false }
