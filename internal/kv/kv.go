// Package kv is wasmroute's key-value store: one namespace per project or
// tenant, kept in an embedded database or in Redis, behind the kv_* host
// functions (abi.FuncKVGet...).
//
// The backends live beside this file; this file is the contract the host
// (package host) programs against.
package kv

import (
	"context"
	"errors"
	"time"
)

// Namespace is one project's (or tenant's) view of the store. Keys are
// 1..MaxKey bytes of UTF-8 (the host checks them before calling); no key
// reaches another namespace. Its methods are safe for concurrent use, and
// each honours its context's deadline.
type Namespace interface {
	// Get returns the value of key, or an error matching ErrNotFound when
	// the key is missing or expired.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key, expiring after ttl (0: never). It returns
	// once the write is durable. ErrTooLarge, ErrLimit.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, sorted bytewise,
	// expired keys left out.
	List(ctx context.Context, prefix string) ([]string, error)
	// Incr adds by to the decimal integer stored at key (missing: 0),
	// atomically, keeping the key's expiry, and returns the new value.
	// ErrNotInteger when the value is not a decimal int64 or the sum
	// overflows; ErrLimit for a new key past MaxKeys.
	Incr(ctx context.Context, key string, by int64) (int64, error)
}

// MaxKey is the longest key, in bytes.
const MaxKey = 512

// Errors a Namespace returns, wrapped with a message for the guest
// (error_message) that names the key or limit.
var (
	ErrNotFound   = errors.New("no such key")
	ErrTooLarge   = errors.New("value too large")
	ErrLimit      = errors.New("too many keys")
	ErrNotInteger = errors.New("not an integer")
)
