package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/wasmroute/wasmroute/internal/digest"
)

// printDigest prints the digest of the project in dir on stdout, alone on
// its line, for deploy scripts: wasmroute build's last word.
func printDigest(dir string, stdout, stderr io.Writer) int {
	d, err := digest.Project(dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, d)
	return 0
}

// logDigest logs, and returns, the digest of the project (with --tenants,
// of every tenant's) that serve is about to load: the one wasmroute build
// printed for the same files. A folder that cannot be read whole is
// logged, not fatal (the load reports what it cannot read), and returns "".
func logDigest(dir string, logger *slog.Logger) string {
	d, err := digest.Project(dir)
	if err != nil {
		logger.Warn("no project digest", "err", err)
		return ""
	}
	logger.Info("project", "dir", dir, "digest", d)
	return d
}
