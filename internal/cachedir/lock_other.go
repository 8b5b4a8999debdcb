//go:build !unix

package cachedir

// tryLock always succeeds where flock is not available: two trims at once
// only delete a little more than needed.
func tryLock(string) (func(), bool, error) { return func() {}, true, nil }
