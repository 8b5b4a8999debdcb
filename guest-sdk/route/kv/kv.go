// Package kv is the key-value store of a wasmroute route: one namespace per
// project (per tenant when the server runs several), shared by all its
// routes, instances and replicas, and reached by no other project. It is
// the Go counterpart of TypeScript's
//
//	import { kv } from 'wasmroute:kv'
//
// Keys are 1 to 512 bytes of UTF-8; values are bytes, up to the host's
// maxKVValue (default 1 MiB), in a namespace of at most maxKVKeys keys
// (default 10,000). A value may expire (TTL). Each call blocks until the
// store answers, within the request's time, and a Set that returned nil is
// durable.
//
//	n, err := kv.Incr("visits:"+r.Param("slug"), 1)
//	if err != nil {
//		w.Text(502, err.Error())
//		return
//	}
//	if err := kv.SetString("last-visitor", r.RemoteAddr(), kv.TTL(time.Hour)); err != nil {
//		...
//	}
//	v, err := kv.GetString("greeting")
//	if errors.Is(err, kv.ErrNotFound) {
//		v = "hello"
//	}
//
// Natively, package routetest gives a handler an in-memory namespace with
// the same semantics (routetest.Request.KV), so handlers that use kv are
// unit-tested with plain go test.
//
// Call the functions while a request is served (from its route.Handler).
// They are not safe for concurrent use: an error is explained by the host's
// account of the request's last failed call (error_message).
package kv

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/hostcall"
)

// Errors the store reports. Except for ErrNotFound, which Get returns as
// is, each arrives wrapped with the host's explanation naming the key or
// the limit: test it with errors.Is.
var (
	// ErrNotFound reports a key that does not exist or has expired.
	ErrNotFound = errors.New("kv: key not found")
	// ErrInvalid reports an argument the store refused: a key that is
	// empty, longer than 512 bytes or not UTF-8, a negative or too long
	// TTL, or an Incr of a value that is not a decimal int64 or whose sum
	// overflows.
	ErrInvalid = errors.New("kv: invalid argument")
	// ErrTooLarge reports a value longer than the host's maxKVValue.
	ErrTooLarge = errors.New("kv: value too large")
	// ErrLimit reports a new key that would take the namespace past the
	// host's maxKVKeys.
	ErrLimit = errors.New("kv: too many keys")
	// ErrFailed reports that the store failed or is unavailable (or that
	// the host has none).
	ErrFailed = errors.New("kv: store failed")
)

// Option changes how Set stores a value; TTL makes one.
type Option struct {
	ttl time.Duration
}

// TTL makes the value expire after d, counted in whole seconds rounded up
// (1ms keeps it 1s). Zero, the default, keeps it until it is deleted or
// replaced; a negative d, or one over 2^31-1 seconds (68 years), makes Set
// fail with ErrInvalid.
func TTL(d time.Duration) Option { return Option{ttl: d} }

// Get returns the value of key, or ErrNotFound (itself, so that == works
// too) when it does not exist or has expired.
func Get(key string) ([]byte, error) {
	v, code := hostcall.GetKeyed(key, hostcall.KVGet)
	switch code {
	case abi.OK:
		return v, nil
	case abi.ErrNotFound:
		return nil, ErrNotFound
	}
	return nil, kvError(code, "kv get "+strconv.Quote(key))
}

// GetString returns the value of key as a string; errors as for Get.
func GetString(key string) (string, error) {
	v, err := Get(key)
	return string(v), err
}

// GetJSON decodes the JSON value of key into v, as json.Unmarshal does;
// errors as for Get, or json's.
func GetJSON(key string, v any) error {
	b, err := Get(key)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Set stores value under key, replacing any value it had, and returns once
// the write is durable. With TTL the value expires. It fails with
// ErrTooLarge for a value over maxKVValue, ErrLimit when a new key would
// take the namespace past maxKVKeys, ErrInvalid for a bad key or TTL.
func Set(key string, value []byte, opts ...Option) error {
	what := "kv set " + strconv.Quote(key)
	var ttl time.Duration
	for _, o := range opts {
		ttl = o.ttl
	}
	secs := ttl / time.Second
	if ttl%time.Second != 0 {
		secs++ // rounded up
	}
	if ttl < 0 || secs > math.MaxInt32 {
		return &hostcall.Error{Err: ErrInvalid, Msg: what + ": ttl " + ttl.String() + " is out of range (0 to 2^31-1 seconds)"}
	}
	return kvError(hostcall.KVSet(key, value, int32(secs)), what)
}

// SetString stores the string value under key; as Set.
func SetString(key, value string, opts ...Option) error {
	return Set(key, []byte(value), opts...)
}

// SetJSON stores v, encoded as JSON by json.Marshal, under key; as Set.
func SetJSON(key string, v any, opts ...Option) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return Set(key, b, opts...)
}

// Delete deletes key. Deleting a key that does not exist is not an error.
func Delete(key string) error {
	return kvError(hostcall.KVDelete(key), "kv delete "+strconv.Quote(key))
}

// List returns the keys that start with prefix ("" for all), sorted
// bytewise, expired keys left out.
func List(prefix string) ([]string, error) {
	list, code := hostcall.GetKeyed(prefix, hostcall.KVList)
	if code != abi.OK {
		return nil, kvError(code, "kv list "+strconv.Quote(prefix))
	}
	keys := []string{}
	for len(list) > 0 {
		item, rest, ok := abi.NextItem(list)
		if !ok {
			return nil, &hostcall.Error{Err: ErrFailed, Msg: "kv list " + strconv.Quote(prefix) + ": malformed list from the host"}
		}
		keys = append(keys, string(item))
		list = rest
	}
	return keys, nil
}

// Incr adds by (which may be negative) to the integer stored at key and
// returns the new value, atomically across requests, instances and
// replicas: the counter for rate limits and visits. A missing key counts as
// 0; the value is stored as decimal text (Get reads "42") and keeps its
// expiry. It fails with ErrInvalid when the value is not a decimal int64 or
// the sum overflows, and ErrLimit for a new key past maxKVKeys.
func Incr(key string, by int64) (int64, error) {
	n := by
	if code := hostcall.KVIncr(key, &n); code != abi.OK {
		return 0, kvError(code, "kv incr "+strconv.Quote(key))
	}
	return n, nil
}

// kvError maps a kv_* result to nil or its error, explained by the host;
// what names the call if the host gave no explanation.
func kvError(code int32, what string) error {
	var sentinel error
	switch code {
	case abi.OK:
		return nil
	case abi.ErrNotFound:
		sentinel = ErrNotFound
	case abi.ErrInvalid:
		sentinel = ErrInvalid
	case abi.ErrTooLarge:
		sentinel = ErrTooLarge
	case abi.ErrLimit:
		sentinel = ErrLimit
	case abi.ErrFailed:
		sentinel = ErrFailed
	default:
		return &hostcall.Error{Err: ErrFailed, Msg: what + ": unknown host error code " + strconv.Itoa(int(code))}
	}
	return hostcall.Explain(sentinel, what)
}
