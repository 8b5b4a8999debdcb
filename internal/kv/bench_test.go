package kv_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/wasmroute/wasmroute/internal/kv"
)

// BenchmarkGet reads a 64-byte value through Namespace.Get and, on the
// same data in the same run, through the backend's own client: bbolt's
// View and Get (copying the value out, as a caller must), valkey-go's GET.
// The ratio of each pair is what this package adds.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 64)
	setup := func(b *testing.B, st *kv.Store) kv.Namespace {
		ns, err := st.Namespace("bench", kv.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if err := ns.Set(ctx, "key", value, 0); err != nil {
			b.Fatal(err)
		}
		return ns
	}
	check := func(b *testing.B, v []byte) {
		if len(v) != len(value) {
			b.Fatalf("got %q", v)
		}
	}
	b.Run("bolt/kv", func(b *testing.B) {
		ns := setup(b, openEmbedded(b, b.TempDir()))
		b.ReportAllocs()
		for b.Loop() {
			v, err := ns.Get(ctx, "key")
			if err != nil {
				b.Fatal(err)
			}
			check(b, v)
		}
	})
	b.Run("bolt/bbolt", func(b *testing.B) {
		st := openEmbedded(b, b.TempDir())
		setup(b, st)
		db, bucket := kv.BoltDB(st), kv.BoltBucket("bench")
		key := []byte("key")
		b.ReportAllocs()
		for b.Loop() {
			var v []byte
			err := db.View(func(tx *bolt.Tx) error {
				v = bytes.Clone(tx.Bucket(bucket).Get(key)[8:])
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			check(b, v)
		}
	})
	b.Run("redis/kv", func(b *testing.B) {
		ns := setup(b, openRedis(b))
		b.ReportAllocs()
		for b.Loop() {
			v, err := ns.Get(ctx, "key")
			if err != nil {
				b.Fatal(err)
			}
			check(b, v)
		}
	})
	b.Run("redis/valkey-go", func(b *testing.B) {
		st := openRedis(b)
		setup(b, st)
		c, key := kv.RedisClient(st), kv.RedisKey("bench", "key")
		b.ReportAllocs()
		for b.Loop() {
			v, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsBytes()
			if err != nil {
				b.Fatal(err)
			}
			check(b, v)
		}
	})
}

// BenchmarkIncrParallel increments one key from 32 goroutines per CPU: on
// the embedded store, writers waiting together share a commit (and its
// fsync).
func BenchmarkIncrParallel(b *testing.B) {
	for _, backend := range []string{"bolt", "redis"} {
		b.Run(backend, func(b *testing.B) {
			var st *kv.Store
			if backend == "bolt" {
				st = openEmbedded(b, b.TempDir())
			} else {
				st = openRedis(b)
			}
			ns, err := st.Namespace(fmt.Sprint("incr-", b.N), kv.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			var commits int64
			if backend == "bolt" {
				commits = kv.BoltCommits(st)
			}
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ns.Incr(context.Background(), "n", 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if backend == "bolt" {
				b.ReportMetric(float64(b.N)/float64(kv.BoltCommits(st)-commits), "incr/commit")
			}
		})
	}
}
