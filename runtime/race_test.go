//go:build race

package runtime

// raceEnabled reports whether the tests run under the race detector, which
// shadows the Go heap with memory of its own.
const raceEnabled = true
