package kv

import (
	"github.com/valkey-io/valkey-go"
	bolt "go.etcd.io/bbolt"
)

// BoltDB returns the database of an embedded Store, for benchmarks that
// compare against bbolt itself.
func BoltDB(s *Store) *bolt.DB { return s.b.(*boltStore).db }

// RedisClient returns the client of a Redis Store.
func RedisClient(s *Store) valkey.Client { return s.b.(*redisStore).c }

// BoltBucket and RedisKey name where namespace ns keeps key's value.
func BoltBucket(ns string) []byte { return []byte("k:" + ns) }

func RedisKey(ns, key string) string { return "wasmroute:{" + ns + "}:k:" + key }

// BoltCommits returns how many transactions an embedded Store committed.
func BoltCommits(s *Store) int64 { return s.b.(*boltStore).commits.Load() }
