package routetest

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/standin"
)

// KV is an in-memory key-value namespace for Request.KV, with the host's
// semantics: values expire after their TTL, List sorts keys bytewise and
// leaves expired ones out, Incr keeps decimal text and the key's expiry,
// and the limits, when set, fail calls as the host's do.
//
// The zero value is an empty namespace without limits. Set the fields
// before the first Run. A KV is safe for concurrent use.
type KV struct {
	// MaxKeys, when positive, is the host's maxKVKeys: a set or incr of a
	// new key that would take the namespace past it fails with kv.ErrLimit.
	MaxKeys int
	// MaxValue, when positive, is the host's maxKVValue (1 MiB by default
	// there): a longer value fails with kv.ErrTooLarge.
	MaxValue int
	// Now is the clock TTLs are measured by, so that a test can expire
	// values without waiting; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	m  map[string]kvEntry
}

type kvEntry struct {
	value   []byte
	expires time.Time // zero: never
}

func (kv *KV) now() time.Time {
	if kv.Now != nil {
		return kv.Now()
	}
	return time.Now()
}

// live returns key's entry if it exists and has not expired. The caller
// holds kv.mu.
func (kv *KV) live(key string, now time.Time) (kvEntry, bool) {
	e, ok := kv.m[key]
	if !ok || !e.expires.IsZero() && !now.Before(e.expires) {
		return kvEntry{}, false
	}
	return e, true
}

// Get returns a copy of the value of key and whether it exists (and has not
// expired), to check what a handler stored.
func (kv *KV) Get(key string) ([]byte, bool) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	e, ok := kv.live(key, kv.now())
	return slices.Clone(e.value), ok
}

// Set stores a copy of value under key, expiring after ttl (0: never), to
// give a handler data to find. It ignores MaxKeys and MaxValue.
func (kv *KV) Set(key string, value []byte, ttl time.Duration) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.put(key, slices.Clone(value), ttl, kv.now())
}

// Keys returns the keys that exist and have not expired, sorted.
func (kv *KV) Keys() []string {
	keys, _ := namespace{kv}.List("")
	return keys
}

// put stores value; the caller holds kv.mu.
func (kv *KV) put(key string, value []byte, ttl time.Duration, now time.Time) {
	if kv.m == nil {
		kv.m = make(map[string]kvEntry)
	}
	e := kvEntry{value: value}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	kv.m[key] = e
}

// full reports whether a new key would take the namespace past MaxKeys. The
// caller holds kv.mu.
func (kv *KV) full(now time.Time) bool {
	if kv.MaxKeys <= 0 {
		return false
	}
	n := 0
	for k := range kv.m {
		if _, ok := kv.live(k, now); ok {
			n++
		}
	}
	return n >= kv.MaxKeys
}

// namespace is KV as the stand-in's kv_* functions see it
// (standin.Namespace); its errors are their messages (error_message).
type namespace struct{ kv *KV }

func (ns namespace) Get(key string) ([]byte, error) {
	v, ok := ns.kv.Get(key)
	if !ok {
		return nil, fmt.Errorf("kv get %q: %w", key, standin.ErrNotFound)
	}
	return v, nil
}

func (ns namespace) Set(key string, value []byte, ttl time.Duration) error {
	kv := ns.kv
	kv.mu.Lock()
	defer kv.mu.Unlock()
	now := kv.now()
	if kv.MaxValue > 0 && len(value) > kv.MaxValue {
		return fmt.Errorf("kv set %q: %w: %d bytes, over maxKVValue (%d)", key, standin.ErrTooLarge, len(value), kv.MaxValue)
	}
	if _, ok := kv.live(key, now); !ok && kv.full(now) {
		return fmt.Errorf("kv set %q: %w: the namespace holds maxKVKeys (%d)", key, standin.ErrLimit, kv.MaxKeys)
	}
	kv.put(key, value, ttl, now)
	return nil
}

func (ns namespace) Delete(key string) error {
	kv := ns.kv
	kv.mu.Lock()
	defer kv.mu.Unlock()
	delete(kv.m, key)
	return nil
}

func (ns namespace) List(prefix string) ([]string, error) {
	kv := ns.kv
	kv.mu.Lock()
	defer kv.mu.Unlock()
	now := kv.now()
	keys := []string{}
	for k := range kv.m {
		if _, ok := kv.live(k, now); ok && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (ns namespace) Incr(key string, by int64) (int64, error) {
	kv := ns.kv
	kv.mu.Lock()
	defer kv.mu.Unlock()
	now := kv.now()
	e, ok := kv.live(key, now)
	var n int64
	if ok {
		var err error
		if n, err = strconv.ParseInt(string(e.value), 10, 64); err != nil {
			return 0, fmt.Errorf("kv incr %q: %w: the value is %q", key, standin.ErrNotInteger, e.value)
		}
	} else {
		e = kvEntry{}
		if kv.full(now) {
			return 0, fmt.Errorf("kv incr %q: %w: the namespace holds maxKVKeys (%d)", key, standin.ErrLimit, kv.MaxKeys)
		}
	}
	if by > 0 && n > math.MaxInt64-by || by < 0 && n < math.MinInt64-by {
		return 0, fmt.Errorf("kv incr %q: %w: %d + %d overflows int64", key, standin.ErrNotInteger, n, by)
	}
	n += by
	e.value = strconv.AppendInt(nil, n, 10)
	if kv.m == nil {
		kv.m = make(map[string]kvEntry)
	}
	kv.m[key] = e // keeps its expiry
	return n, nil
}
