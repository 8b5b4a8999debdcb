package routes

import (
	"slices"
	"strings"
)

// Error is one problem found while loading routes. It is a plain value, safe
// for concurrent reads.
type Error struct {
	// Files are the route folders (or, from Scan, the files) involved,
	// relative to the project root and slash-separated, sorted: "app" for the
	// app folder itself, "app/(a)/x" for a route folder.
	Files []string
	// Msg says what is wrong and what to do about it.
	Msg string
}

// Error returns the files and the message, such as
// "app/(a)/x, app/(b)/x: both resolve to /x; keep one".
func (e *Error) Error() string {
	if len(e.Files) == 0 {
		return e.Msg
	}
	return strings.Join(e.Files, ", ") + ": " + e.Msg
}

// Errors is every problem found while loading routes, sorted by their text.
// Scan and Build return it as their error. It is safe for concurrent reads.
type Errors []*Error

// Error returns one problem per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.As finds each *Error.
func (e Errors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, err := range e {
		errs[i] = err
	}
	return errs
}

func (e Errors) sort() {
	slices.SortFunc(e, func(a, b *Error) int { return strings.Compare(a.Error(), b.Error()) })
}

// dirError returns an Error naming the route folders dirs (relative to app/).
func dirError(dirs []string, msg string) *Error {
	files := make([]string, len(dirs))
	for i, d := range dirs {
		files[i] = "app"
		if d != "" {
			files[i] += "/" + d
		}
	}
	return newError(files, msg)
}

// newError returns an Error naming files, sorted and without repeats.
func newError(files []string, msg string) *Error {
	files = slices.Clone(files)
	slices.Sort(files)
	return &Error{Files: slices.Compact(files), Msg: msg}
}
