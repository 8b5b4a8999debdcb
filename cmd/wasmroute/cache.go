package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/wasmroute/wasmroute/internal/cachedir"
	"github.com/wasmroute/wasmroute/runtime"
)

// defaultCacheMaxSize bounds the cache folder unless --cache-max-size says
// otherwise: a Go route compiles to ~10 MiB of machine code, so this keeps
// about a hundred routes compiled.
const defaultCacheMaxSize = 1 << 30

// cacheOpts are the --cache-dir and --cache-max-size flags.
type cacheOpts struct {
	dir     string
	maxSize int64
}

// cacheFlags defines --cache-dir and --cache-max-size on fs.
func cacheFlags(fs *flag.FlagSet) *cacheOpts {
	c := &cacheOpts{maxSize: defaultCacheMaxSize}
	fs.StringVar(&c.dir, "cache-dir", defaultCacheDir(), "compilation cache folder (empty: none)")
	fs.Var(sizeFlag{&c.maxSize}, "cache-max-size", "bound on the cache folder's compiled code, snapshots and bundles; the least recently used go first (0: no bound)")
	return c
}

func defaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "wasmroute")
}

// trim brings the cache folder under its bound; commands call it when they
// start and after they compile. Its failures are logged, not fatal: the
// cache only saves time.
func (c *cacheOpts) trim(log *slog.Logger) {
	r, err := cachedir.Trim(c.dir, c.maxSize)
	if err != nil {
		log.Warn("cannot trim the cache folder", "dir", c.dir, "err", err)
		return
	}
	if r.Deleted > 0 {
		log.Info("trimmed the cache folder", "dir", c.dir, "deleted", r.Deleted, "freed", runtime.FormatSize(r.Freed), "left", runtime.FormatSize(r.Size-r.Freed), "max", runtime.FormatSize(c.maxSize))
	}
}

// trimEvery trims the cache folder every period until ctx is done, for a
// server whose modules compile when first asked (or again, after
// --max-compiled dropped them).
func (c *cacheOpts) trimEvery(ctx context.Context, period time.Duration, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.trim(log)
		}
	}
}
