//go:build race

package main

// raceSlack multiplies the latency bounds of tests whose clients run in
// the test process: the race detector slows them several times, and CI
// runs other packages' race tests beside them.
const raceSlack = 2
