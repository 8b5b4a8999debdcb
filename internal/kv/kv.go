// Package kv is wasmroute's key-value store: one namespace per project or
// tenant, kept in an embedded database (bbolt) or in a Redis or Valkey
// server, behind the kv_* host functions (abi.FuncKVGet...).
//
// A runtime opens one Store and gives each project its Namespace:
//
//	st, err := kv.Open(ctx, kv.Config{Dir: "data/kv"}) // or URL: "redis://host:6379/0"
//	if err != nil {
//		return err
//	}
//	defer st.Close()
//	ns, err := st.Namespace("blog", kv.Limits{}) // zero Limits: DefaultLimits
//	if err != nil {
//		return err
//	}
//	err = ns.Set(ctx, "views:home", []byte("0"), 0)
//	n, err := ns.Incr(ctx, "views:home", 1) // 1
//
// Both backends behave the same way, down to which strings Incr takes for
// integers (Redis's): one test suite runs against both.
//
// # Notes
//
//   - A write that returned nil is durable: the embedded store has synced
//     it to disk (writers waiting at the same time share one sync); Redis
//     has it as durably as the server is configured to keep it (appendonly).
//   - Expiry is in whole seconds, counted from the write: a ttl under a
//     second is a second.
//   - A call that fails because its context ended may still have been
//     carried out by Redis (the command was sent); the embedded store
//     either writes before the context ended or not at all.
package kv

import (
	"context"
	"errors"
	"time"
)

// Namespace is one project's (or tenant's) view of the store. Keys are
// 1..MaxKey bytes of UTF-8 (the host checks them before calling; a
// Namespace refuses others with ErrInvalidKey); no key reaches another
// namespace. Its methods are safe for concurrent use, and each honours its
// context's deadline.
type Namespace interface {
	// Get returns the value of key, or an error matching ErrNotFound when
	// the key is missing or expired. The caller owns the returned slice.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key, expiring after ttl (0 or less: never),
	// rounded up to whole seconds. It returns once the write is durable,
	// and does not keep value.
	// ErrTooLarge for a value over Limits.MaxValue; ErrLimit when key is
	// new and the namespace holds Limits.MaxKeys keys.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix (any bytes; empty: all
	// keys), sorted bytewise, expired keys left out.
	List(ctx context.Context, prefix string) ([]string, error)
	// Incr adds by to the decimal integer stored at key (missing or
	// expired: 0), atomically, keeping the key's expiry, and returns the
	// new value, stored as decimal text. ErrNotInteger when the value is
	// not a decimal int64 as Redis reads one ("0", or an optional '-' then
	// digits without a leading zero) or the sum overflows; ErrLimit for a
	// new key past Limits.MaxKeys.
	Incr(ctx context.Context, key string, by int64) (int64, error)
}

// MaxKey is the longest key, in bytes.
const MaxKey = 512

// Errors a Namespace returns, wrapped with a message for the guest
// (error_message) that names the operation, the key and the limit, e.g.
//
//	kv set "cart:42": value too large: 2000000 bytes, over maxKVValue (1048576)
//
// Any other error is the store failing (the server unreachable, the disk
// full) or the context ending.
var (
	ErrNotFound   = errors.New("no such key")
	ErrTooLarge   = errors.New("value too large")
	ErrLimit      = errors.New("too many keys")
	ErrNotInteger = errors.New("not an integer")
	ErrInvalidKey = errors.New("invalid key")
)
