package kv

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCommitFailsAlone breaks one namespace (its bucket gone) and writes to
// it and to another at once: the transactions the broken writes share
// with others fail, and are tried again one write each, so that only the
// broken writes fail.
func TestCommitFailsAlone(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	good, _ := st.Namespace("good", Limits{})
	bad, _ := st.Namespace("bad", Limits{})
	db := st.b.(*boltStore).db
	if err := db.Update(func(tx *bolt.Tx) error {
		return errors.Join(tx.DeleteBucket([]byte("n:bad")), tx.DeleteBucket([]byte("k:bad")))
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				if _, err := good.Incr(ctx, "n", 1); err != nil {
					t.Errorf("good namespace: %v", err)
				}
				if _, err := bad.Incr(ctx, "n", 1); err == nil || !strings.Contains(err.Error(), `kv incr "n": namespace bad: no bucket k:bad`) {
					t.Errorf("broken namespace: %v, want its error", err)
				}
			}
		})
	}
	wg.Wait()
	if v, err := good.Get(ctx, "n"); err != nil || string(v) != "320" {
		t.Errorf("good namespace's n = %s, %v; want 320", v, err)
	}
	// Reads of the broken namespace fail too, without a panic.
	if _, err := bad.Get(ctx, "n"); err == nil || !strings.Contains(err.Error(), "no bucket k:bad") {
		t.Errorf("Get in the broken namespace: %v", err)
	}
	if _, err := bad.List(ctx, ""); err == nil || !strings.Contains(err.Error(), "no bucket k:bad") {
		t.Errorf("List in the broken namespace: %v", err)
	}
}
