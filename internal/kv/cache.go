package kv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/valkey-io/valkey-go"
)

// A Cache is a namespace's shared response cache in Redis: the entries the
// runtime stores there, opaque bytes under ids it chooses (hex digests),
// bounded in bytes, least recently used out, for every replica sharing the
// server. In Redis, namespace ns holds, beside its key-value keys and with
// the same hash tag {ns} (one cluster slot):
//
//	wasmroute:{ns}:c:e:<id>   string: an entry, expiring (PX) with its stale window
//	wasmroute:{ns}:c:lru      sorted set: every entry id, scored by its last use (server ms)
//	wasmroute:{ns}:c:exp      sorted set: every entry id, scored by its expiry (server ms)
//	wasmroute:{ns}:c:meta     hash: id → "size path-tag route-tag"
//	wasmroute:{ns}:c:bytes    string: the sum of the sizes
//	wasmroute:{ns}:c:gen      string: bumped by every Revalidate
//	wasmroute:{ns}:c:p:<tag>  set: the ids stored for a path (tag: its digest)
//	wasmroute:{ns}:c:r:<tag>  set: the ids stored for a route pattern
//	wasmroute:{ns}:c:l:<id>   string: the lock of the replica computing id
//
// Writes are Lua scripts, so the byte bound, the LRU order and the indexes
// move together, atomically for every replica; they reach the keys of the
// entries they drop by name, all in the namespace's cluster slot. The bookkeeping keys expire
// maxCacheLife after the last write, so an abandoned namespace drains.
type Cache struct {
	c    valkey.Client
	base string // wasmroute:{ns}:c:
	max  string // the byte bound, for the scripts
}

// maxCacheLife bounds an entry's life, and the bookkeeping's after the
// last write.
const maxCacheLife = 7 * 24 * time.Hour

// ErrNoSharedCache is Store.Cache's error for a store that is not a Redis
// server: the embedded store is one process's.
var ErrNoSharedCache = errors.New("a shared response cache needs a Redis or Valkey store (redis://…)")

// Cache returns namespace name's shared response cache, bounded to
// maxBytes (the sum of the sizes Put is given). It is safe for concurrent
// use.
func (s *Store) Cache(name string, maxBytes int64) (*Cache, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	r, ok := s.b.(*redisStore)
	if !ok {
		return nil, ErrNoSharedCache
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("kv: cache of namespace %s: bound %d bytes", name, maxBytes)
	}
	return &Cache{c: r.c, base: "wasmroute:{" + name + "}:c:", max: strconv.FormatInt(maxBytes, 10)}, nil
}

// cacheLib, the start of every write script, defines now (the server's
// time in ms), base (ARGV[1]) and drop(id), which removes an entry and
// its bookkeeping, and purges up to 16 entries expired by now.
const cacheLib = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local base = ARGV[1]
local function drop(id)
  local meta = redis.call('HGET', base .. 'meta', id)
  redis.call('DEL', base .. 'e:' .. id)
  redis.call('ZREM', base .. 'lru', id)
  redis.call('ZREM', base .. 'exp', id)
  if meta then
    redis.call('HDEL', base .. 'meta', id)
    local size, p, r = string.match(meta, '^(%d+) (%x*) (%x*)$')
    if size then
      redis.call('DECRBY', base .. 'bytes', size)
      if p ~= '' then redis.call('SREM', base .. 'p:' .. p, id) end
      if r ~= '' then redis.call('SREM', base .. 'r:' .. r, id) end
    end
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. 'exp', '-inf', '(' .. string.format('%d', now), 'LIMIT', 0, 16)) do
  drop(id)
end
`

var (
	// KEYS: the entry, lru, gen. ARGV: base, id. Returns {entry or nil,
	// gen}, and marks the entry used.
	cacheGet = valkey.NewLuaScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[2], 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[2])
end
return {v, redis.call('GET', KEYS[3]) or '0'}
`)
	// KEYS: the entry, its lock. Returns {entry or nil, 1 if locked}.
	cachePeek = valkey.NewLuaScript(`
return {redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[2])}
`)
	// KEYS: the entry, lru, exp, meta, bytes, gen, path set, route set, lock.
	// ARGV: base, id, value, ttl ms, size, max bytes, gen, path tag, route
	// tag, lock token, life ms. Returns 1 if stored, 0 if a revalidation
	// happened since gen.
	cachePut = valkey.NewLuaScript(cacheLib + `
if redis.call('GET', KEYS[9]) == ARGV[10] then redis.call('DEL', KEYS[9]) end
if (redis.call('GET', KEYS[6]) or '0') ~= ARGV[7] then return 0 end
local id = ARGV[2]
drop(id)
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), id)
redis.call('HSET', KEYS[4], id, ARGV[5] .. ' ' .. ARGV[8] .. ' ' .. ARGV[9])
local total = redis.call('INCRBY', KEYS[5], ARGV[5])
redis.call('SADD', KEYS[7], id)
if ARGV[9] ~= '' then redis.call('SADD', KEYS[8], id) end
local max = tonumber(ARGV[6])
while total > max do
  local lru = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #lru == 0 then break end
  drop(lru[1])
  total = tonumber(redis.call('GET', KEYS[5]) or '0')
end
for i = 2, 8 do redis.call('PEXPIRE', KEYS[i], ARGV[11]) end
return 1
`)
	// KEYS: gen, path set, route set (or the path set again). ARGV: base.
	cacheRevalidate = valkey.NewLuaScript(cacheLib + `
redis.call('INCR', KEYS[1])
for i = 2, 3 do
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[i])) do drop(id) end
  redis.call('DEL', KEYS[i])
end
return 0
`)
	// KEYS: the lock. ARGV: its token.
	cacheUnlock = valkey.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)
)

// Get returns the entry id, nil if there is none (an empty slice for an
// empty entry), and the namespace's
// revalidation generation, for Put; it marks the entry used.
func (c *Cache) Get(ctx context.Context, id string) (value []byte, gen string, err error) {
	res, err := cacheGet.Exec(ctx, c.c, []string{c.base + "e:" + id, c.base + "lru", c.base + "gen"}, []string{c.base, id}).ToArray()
	if err != nil {
		return nil, "", err
	}
	if len(res) != 2 {
		return nil, "", fmt.Errorf("kv: cache get: %d replies, want 2", len(res))
	}
	if gen, err = res[1].ToString(); err != nil {
		return nil, "", err
	}
	v, err := present(res[0])
	return v, gen, err
}

// present returns a reply's bytes: nil for a nil reply, never for an
// empty string.
func present(m valkey.ValkeyMessage) ([]byte, error) {
	v, err := m.AsBytes()
	switch {
	case valkey.IsValkeyNil(err):
		return nil, nil
	case err == nil && v == nil:
		return []byte{}, nil
	}
	return v, err
}

// Peek returns the entry id, nil if there is none, and whether a replica
// holds its lock (is computing it), without marking it used.
func (c *Cache) Peek(ctx context.Context, id string) (value []byte, locked bool, err error) {
	res, err := cachePeek.Exec(ctx, c.c, []string{c.base + "e:" + id, c.base + "l:" + id}, nil).ToArray()
	if err != nil {
		return nil, false, err
	}
	if len(res) != 2 {
		return nil, false, fmt.Errorf("kv: cache peek: %d replies, want 2", len(res))
	}
	n, err := res[1].AsInt64()
	if err != nil {
		return nil, false, err
	}
	v, err := present(res[0])
	return v, n == 1, err
}

// Entry is what Put stores.
type Entry struct {
	ID    string        // the entry's id: a hex digest
	Value []byte        // its bytes
	TTL   time.Duration // it expires after this (at most 7 days), rounded up to ms
	Size  int64         // what it counts against the bound: at least len(Value)
	Path  string        // the tag (hex) of its path, for Revalidate
	Route string        // the tag (hex) of its route pattern, for Revalidate; may be empty
	Gen   string        // Get's gen when the answer was asked for
	Token string        // the lock token taken for ID, if any: released
}

// Put stores e, unless a Revalidate happened since e.Gen (stored is then
// false), dropping the entries used least recently while the namespace is
// over its bound. It releases e.ID's lock if e.Token holds it.
func (c *Cache) Put(ctx context.Context, e Entry) (stored bool, err error) {
	ttl := min(max(e.TTL, time.Millisecond), maxCacheLife)
	id := e.ID
	n, err := cachePut.Exec(ctx, c.c,
		[]string{c.base + "e:" + id, c.base + "lru", c.base + "exp", c.base + "meta", c.base + "bytes", c.base + "gen",
			c.base + "p:" + e.Path, c.base + "r:" + e.Route, c.base + "l:" + id},
		[]string{c.base, id, string(e.Value), strconv.FormatInt(ttl.Milliseconds(), 10), strconv.FormatInt(e.Size, 10), c.max,
			e.Gen, e.Path, e.Route, e.Token, strconv.FormatInt(maxCacheLife.Milliseconds(), 10)}).AsInt64()
	return n == 1, err
}

// Revalidate drops every entry stored with path tag path or route tag
// route (empty: none) and bumps the generation, so that no answer asked
// for before is stored after.
func (c *Cache) Revalidate(ctx context.Context, path, route string) error {
	r := c.base + "p:" + path
	if route != "" {
		r = c.base + "r:" + route
	}
	return cacheRevalidate.Exec(ctx, c.c, []string{c.base + "gen", c.base + "p:" + path, r}, []string{c.base}).Error()
}

// Lock takes id's lock with token for lease, if no one holds it.
func (c *Cache) Lock(ctx context.Context, id, token string, lease time.Duration) (bool, error) {
	err := c.c.Do(ctx, c.c.B().Set().Key(c.base+"l:"+id).Value(token).Nx().PxMilliseconds(max(lease.Milliseconds(), 1)).Build()).Error()
	if valkey.IsValkeyNil(err) {
		return false, nil
	}
	return err == nil, err
}

// Unlock releases id's lock if token holds it.
func (c *Cache) Unlock(ctx context.Context, id, token string) error {
	return cacheUnlock.Exec(ctx, c.c, []string{c.base + "l:" + id}, []string{token}).Error()
}
