package kv

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"
)

// In Redis, namespace ns is three keys and one per stored key, all with
// the hash tag {ns} (one cluster slot per namespace):
//
//	wasmroute:{ns}:k:<key>  string: the value, with the key's expiry (PXAT)
//	wasmroute:{ns}:i        sorted set: every key, score 0 (ZRANGEBYLEX lists them in byte order)
//	wasmroute:{ns}:x        sorted set: the keys that expire, scored by their expiry in Unix ms
//
// A namespace name has no ':', '{' or '}', so a namespace's prefix is
// never another's and no key string leaves its namespace. Writes are Lua
// scripts, so the index and the limit move with the value atomically, for
// every replica sharing the server; each first drops a few keys that
// expired (Redis dropped their values already) from i and x, and a new key
// counts the live keys as ZCARD i less those in x already past. Times are
// the server's (TIME), as its own expiry is.

// redisPurge, the start of every script, drops up to n keys expired by now
// from the index (KEYS[ix]) and the expiry set (KEYS[ix+1]).
const redisPurge = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local past = '(' .. string.format('%d', now)
local function purge(ix, n)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[ix + 1], '-inf', past, 'LIMIT', 0, n)
  if #gone > 0 then
    redis.call('ZREM', KEYS[ix], unpack(gone))
    redis.call('ZREM', KEYS[ix + 1], unpack(gone))
  end
  return #gone
end
local function full(max)
  return redis.call('ZCARD', KEYS[2]) - redis.call('ZCOUNT', KEYS[3], '-inf', past) >= max
end
`

var (
	// KEYS: value, index, expiry. ARGV: key, value, ttl in ms (0: none),
	// max keys. Returns 0, or the error LIMIT. Retryable, as delete and
	// list: a second run changes nothing the first did not, so the client
	// may send it again when it got no answer (see redisResends). Incr
	// may not.
	redisSet = valkey.NewLuaScriptRetryable(redisPurge + `
purge(2, 16)
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  if full(tonumber(ARGV[4])) then return redis.error_reply('LIMIT') end
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  local at = string.format('%d', now + ttl)
  redis.call('SET', KEYS[1], ARGV[2], 'PXAT', at)
  redis.call('ZADD', KEYS[3], at, ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 0
`)
	// KEYS: value, index, expiry. ARGV: key, by, max keys. Returns the new
	// value as decimal text, or the error LIMIT, or NOTINT and Redis's
	// message. INCRBY keeps the value's expiry and checks its form and
	// overflow; its result is read back with GET, as Lua's numbers are
	// doubles.
	redisIncr = valkey.NewLuaScript(redisPurge + `
purge(2, 16)
if redis.call('EXISTS', KEYS[1]) == 0 then
  if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
    if full(tonumber(ARGV[3])) then return redis.error_reply('LIMIT') end
    redis.call('ZADD', KEYS[2], 0, ARGV[1])
  end
  redis.call('ZREM', KEYS[3], ARGV[1])
end
local r = redis.pcall('INCRBY', KEYS[1], ARGV[2])
if type(r) == 'table' and r.err then return redis.error_reply('NOTINT ' .. r.err) end
return redis.call('GET', KEYS[1])
`)
	// KEYS: value, index, expiry. ARGV: key.
	redisDelete = valkey.NewLuaScriptRetryable(redisPurge + `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
purge(2, 16)
return 0
`)
	// KEYS: index, expiry. ARGV: ZRANGEBYLEX's min and max. Purges every
	// expired key, then lists.
	redisList = valkey.NewLuaScriptRetryable(redisPurge + `
while purge(1, 1000) == 1000 do end
return redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2])
`)
)

type redisStore struct {
	c valkey.Client
}

func openRedis(ctx context.Context, rawURL string) (*redisStore, error) {
	u, _ := url.Parse(rawURL) // parsed by Open
	where := u.Redacted()
	opt, err := valkey.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("kv: store URL %s: %w", where, err)
	}
	opt.DisableCache = true // every read goes to the server: replicas share it
	opt.RetryDelay = redisRetryDelay
	if d, ok := ctx.Deadline(); ok {
		opt.Dialer.Timeout = time.Until(d)
	}
	c, err := valkey.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("kv: connecting to %s: %w", where, err)
	}
	info, err := c.Do(ctx, c.B().Info().Section("server").Build()).ToString()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kv: %s: %w", where, err)
	}
	if v := serverVersion(info); !versionAtLeast(v, 6, 2) {
		c.Close()
		return nil, fmt.Errorf("kv: %s runs Redis %s; the key-value store needs 6.2 or later (SET PXAT)", where, v)
	}
	return &redisStore{c: c}, nil
}

// redisResends is how many times a command that got no answer from Redis
// is sent again, each time on a connection of the client's that is not
// known broken: after Redis restarts, or anything between closes the
// connections, each of the client's idle connections (4: valkey-go's
// PipelineMultiplex of 2) fails its next command with EOF.
const redisResends = 4

// redisRetryDelay bounds the client's resending of a read (or a retryable
// script) after a network error: redisResends times, 5 ms apart, then it
// fails. valkey-go's default resends until the caller's deadline, so with
// Redis down a guest's kv get held its instance for the request's whole
// --max-duration (30 s) instead of failing in milliseconds as a write
// does: a KV route's requests piled up to its instance limits, and its
// project's other routes waited behind them.
func redisRetryDelay(attempts int, _ valkey.Completed, _ error) time.Duration {
	if attempts > redisResends {
		return -1 // no more
	}
	return 5 * time.Millisecond
}

// serverVersion returns redis_version from INFO server (Valkey reports
// the Redis version it is compatible with there).
func serverVersion(info string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "(unknown version)"
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (ma > major || ma == major && mi >= minor)
}

func (s *redisStore) name() string { return "redis" }

func (s *redisStore) close() error {
	s.c.Close()
	return nil
}

func (s *redisStore) namespace(name string, lim Limits) (Namespace, error) {
	base := "wasmroute:{" + name + "}:"
	return &redisNS{
		c: s.c, name: name, lim: lim,
		prefix: base + "k:", index: base + "i", expiry: base + "x",
		maxKeys: strconv.Itoa(lim.MaxKeys),
	}, nil
}

// redisNS is a Namespace in Redis.
type redisNS struct {
	c             valkey.Client
	name          string
	lim           Limits
	prefix        string // of the value keys
	index, expiry string // the sorted sets
	maxKeys       string // lim.MaxKeys, for the scripts
}

func (n *redisNS) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey("get", key); err != nil {
		return nil, err
	}
	v, err := n.c.Do(ctx, n.c.B().Get().Key(n.prefix+key).Build()).ToString()
	switch {
	case valkey.IsValkeyNil(err):
		return nil, errNotFound(key)
	case err != nil:
		return nil, errOp("get", key, err)
	}
	return []byte(v), nil
}

func (n *redisNS) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey("set", key); err != nil {
		return err
	}
	if int64(len(value)) > n.lim.MaxValue {
		return errTooLarge(key, len(value), n.lim)
	}
	ms := "0"
	if ttl > 0 {
		ms = strconv.FormatInt(ttlMillis(ttl), 10)
	}
	err := redisSet.Exec(ctx, n.c, []string{n.prefix + key, n.index, n.expiry}, []string{key, string(value), ms, n.maxKeys}).Error()
	return n.scriptErr("set", key, err)
}

func (n *redisNS) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	err := redisDelete.Exec(ctx, n.c, []string{n.prefix + key, n.index, n.expiry}, []string{key}).Error()
	return n.scriptErr("delete", key, err)
}

func (n *redisNS) Incr(ctx context.Context, key string, by int64) (int64, error) {
	if err := checkKey("incr", key); err != nil {
		return 0, err
	}
	v, err := redisIncr.Exec(ctx, n.c, []string{n.prefix + key, n.index, n.expiry}, []string{key, strconv.FormatInt(by, 10), n.maxKeys}).ToString()
	if e, ok := valkey.IsValkeyErr(err); ok && strings.HasPrefix(e.Error(), "NOTINT ") {
		if strings.Contains(e.Error(), "overflow") {
			return 0, errOverflow(key, by)
		}
		return 0, errNotDecimal(key)
	}
	if err != nil {
		return 0, n.scriptErr("incr", key, err)
	}
	sum, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errOp("incr", key, err)
	}
	return sum, nil
}

func (n *redisNS) List(ctx context.Context, prefix string) ([]string, error) {
	lo, hi := "-", "+"
	if prefix != "" {
		// Keys are UTF-8, which has no byte 0xff: every key starting with
		// prefix sorts before prefix+"\xff".
		lo, hi = "["+prefix, "("+prefix+"\xff"
	}
	keys, err := redisList.Exec(ctx, n.c, []string{n.index, n.expiry}, []string{lo, hi}).AsStrSlice()
	if err != nil {
		return nil, errOp("list", prefix, err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return keys, nil
}

// scriptErr maps a script's error reply to the package's errors.
func (n *redisNS) scriptErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := valkey.IsValkeyErr(err); ok && e.Error() == "LIMIT" {
		return errLimit(op, key, n.name, n.lim)
	}
	return errOp(op, key, err)
}
