package kv

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Config says where a Store keeps its data.
type Config struct {
	// URL selects the backend. Empty: an embedded database in Dir, for one
	// process. redis://[user:pass@]host:port[/db], rediss://… (TLS) or
	// unix:///path/to/socket (valkey:// and valkeys:// too): a Redis (6.2
	// or later) or Valkey server, which every replica of the service
	// shares. The server must not evict keys (maxmemory-policy
	// noeviction): an evicted value would stay listed.
	URL string
	// Dir is the embedded database's folder, created (mode 0700, with a
	// .gitignore holding "*") when missing. Unused with a URL.
	Dir string
}

// Limits bound one namespace. A zero field takes its value from
// DefaultLimits.
type Limits struct {
	// MaxKeys is the most keys the namespace holds (maxKVKeys): a Set or
	// Incr of a new key past it fails with ErrLimit; changing an existing
	// key never does.
	MaxKeys int
	// MaxValue is the largest value, in bytes (maxKVValue): a Set of a
	// larger one fails with ErrTooLarge.
	MaxValue int64
}

// DefaultLimits are the limits of a namespace whose Limits are zero.
var DefaultLimits = Limits{MaxKeys: 10_000, MaxValue: 1 << 20}

// Store is an open key-value store: the embedded database or a connection
// to a server. It is safe for concurrent use, as are its Namespaces.
type Store struct {
	b backend
}

// backend is what Store needs of a storage engine.
type backend interface {
	namespace(name string, lim Limits) (Namespace, error)
	name() string
	close() error
}

// URLSchemes are the schemes of a Config.URL: Redis or Valkey, over TCP,
// TLS or a Unix socket.
var URLSchemes = []string{"redis", "rediss", "valkey", "valkeys", "unix"}

// Open opens the store cfg describes: for the embedded backend it creates
// cfg.Dir if needed and fails at once, naming the folder, when another
// process has it open; for Redis it connects and checks the server (ctx
// bounds that). Close the Store when done.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		b, err := openBolt(ctx, cfg.Dir)
		if err != nil {
			return nil, err
		}
		return &Store{b}, nil
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse's error quotes the URL, password included.
		return nil, errors.New("kv: the store URL does not parse as a URL")
	}
	if slices.Contains(URLSchemes, u.Scheme) {
		b, err := openRedis(ctx, cfg.URL)
		if err != nil {
			return nil, err
		}
		return &Store{b}, nil
	}
	return nil, fmt.Errorf("kv: store URL %s: unknown scheme %q (want redis, rediss, unix, or no URL for the embedded store)", u.Redacted(), u.Scheme)
}

// Namespace returns the namespace called name, with limits lim (zero
// fields: DefaultLimits'). A name is 1 to 100 bytes of a-z, 0-9, '.', '_'
// and '-' (a tenant's name, a DNS label, is one). Namespaces of one name
// share their keys, whatever their limits.
func (s *Store) Namespace(name string, lim Limits) (Namespace, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if lim.MaxKeys < 0 || lim.MaxValue < 0 {
		return nil, fmt.Errorf("kv: namespace %s: negative limits %+v", name, lim)
	}
	if lim.MaxKeys == 0 {
		lim.MaxKeys = DefaultLimits.MaxKeys
	}
	if lim.MaxValue == 0 {
		lim.MaxValue = DefaultLimits.MaxValue
	}
	return s.b.namespace(name, lim)
}

// Backend names the backend, for logs: "bolt" or "redis".
func (s *Store) Backend() string { return s.b.name() }

// Close closes the database or the connections to the server. Calls in
// flight finish first (embedded) or fail (Redis).
func (s *Store) Close() error { return s.b.close() }

// MaxNamespace is the longest namespace name, in bytes.
const MaxNamespace = 100

func checkName(name string) error {
	if name == "" || len(name) > MaxNamespace {
		return fmt.Errorf("kv: namespace name %q: want 1 to %d bytes", name, MaxNamespace)
	}
	for i := range len(name) {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("kv: namespace name %q: %q is not one of a-z, 0-9, '.', '_', '-'", name, c)
		}
	}
	return nil
}

// checkKey returns an ErrInvalidKey error unless key is 1..MaxKey bytes of
// UTF-8.
func checkKey(op, key string) error {
	switch {
	case key == "":
		return fmt.Errorf("kv %s: %w: empty", op, ErrInvalidKey)
	case len(key) > MaxKey:
		return fmt.Errorf("kv %s %.20q…: %w: %d bytes, over %d", op, key, ErrInvalidKey, len(key), MaxKey)
	case !utf8.ValidString(key):
		return fmt.Errorf("kv %s %q: %w: not UTF-8", op, key, ErrInvalidKey)
	}
	return nil
}

// Errors with their messages, shared by the backends.

func errNotFound(key string) error { return fmt.Errorf("kv get %q: %w", key, ErrNotFound) }

func errTooLarge(key string, n int, lim Limits) error {
	return fmt.Errorf("kv set %q: %w: %d bytes, over maxKVValue (%d)", key, ErrTooLarge, n, lim.MaxValue)
}

func errLimit(op, key, ns string, lim Limits) error {
	return fmt.Errorf("kv %s %q: %w: a new key would take namespace %s past maxKVKeys (%d)", op, key, ErrLimit, ns, lim.MaxKeys)
}

func errNotDecimal(key string) error {
	return fmt.Errorf("kv incr %q: %w: the value is not a decimal int64", key, ErrNotInteger)
}

func errOverflow(key string, by int64) error {
	return fmt.Errorf("kv incr %q: %w: adding %d overflows int64", key, ErrNotInteger, by)
}

// errOp wraps err (the store's, the context's) with the operation and key.
func errOp(op, key string, err error) error {
	if key == "" && op == "list" {
		return fmt.Errorf("kv list: %w", err)
	}
	return fmt.Errorf("kv %s %q: %w", op, key, err)
}

// expiryMillis returns when a value written at now with ttl expires, in
// Unix milliseconds, or 0 (never) for ttl <= 0. ttl is rounded up to whole
// seconds.
func expiryMillis(now time.Time, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now.UnixMilli() + ttlMillis(ttl)
}

// ttlMillis is ttl (> 0) rounded up to whole seconds, in milliseconds.
func ttlMillis(ttl time.Duration) int64 {
	s := ttl / time.Second
	if ttl%time.Second != 0 {
		s++ // rounded up, without overflowing near MaxInt64
	}
	if s > math.MaxInt64/1000/1000 { // a few hundred years
		s = math.MaxInt64 / 1000 / 1000
	}
	return int64(s) * 1000
}

// parseDecimal reads b as Redis's INCRBY does (string2ll): "0", or an
// optional '-' then a digit 1-9 then digits, within int64.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	d := b
	if d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || d[0] < '1' || d[0] > '9' {
		return 0, false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

// add returns a+b, or false when that overflows int64.
func add(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}
