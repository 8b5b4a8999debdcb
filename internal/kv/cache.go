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
// server. Each entry has the tags (hex digests) of its path and of its
// route pattern, by which Revalidate makes entries unreachable. In Redis,
// namespace ns holds, beside its key-value keys and with the same hash tag
// {ns} (one cluster slot):
//
//	wasmroute:{ns}:c:e:<id>:<pg>:<rg>  string: an entry, expiring (PX) with its stale window,
//	                                   under its path's and route's generations when stored
//	wasmroute:{ns}:c:lru      sorted set: every stored key's <id>:<pg>:<rg>, scored by its last use (server ms)
//	wasmroute:{ns}:c:exp      sorted set: the same, scored by expiry (server ms)
//	wasmroute:{ns}:c:meta     hash: <id>:<pg>:<rg> → "size path-tag route-tag"
//	wasmroute:{ns}:c:bytes    string: the sum of the sizes
//	wasmroute:{ns}:c:gen      string: bumped by every Revalidate
//	wasmroute:{ns}:c:n:<tag>  string: how many entries a path or route tag has
//	wasmroute:{ns}:c:g:<tag>  string: a path's or route's generation, bumped by a Revalidate of it
//	wasmroute:{ns}:c:l:<id>   string: the lock of the replica computing id
//
// Revalidate costs the same whatever the entries: it bumps generations, and
// the entries stored under the old ones are never read again and leave by
// their expiry or as the least recently used. (Deleting them at once made a
// revalidation of a path with 100,000 query strings hold the server, for
// every tenant, for seconds.) Writes are Lua scripts, so the byte bound, the
// LRU order and the counts move together, atomically for every replica;
// they reach keys by name, all in the namespace's cluster slot. The
// bookkeeping keys expire maxCacheLife after the last write, so an
// abandoned namespace drains; a generation outlives the entries stored
// under it.
type Cache struct {
	c    valkey.Client
	base string   // wasmroute:{ns}:c:
	slot []string // the scripts' one declared key, base+"gen": it routes them to the namespace's slot
	max  string   // the byte bound, for the scripts
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
	base := "wasmroute:{" + name + "}:c:"
	return &Cache{c: r.c, base: base, slot: []string{base + "gen"}, max: strconv.FormatInt(maxBytes, 10)}, nil
}

// cacheLib, the start of every write script, defines now (the server's
// time in ms), base (ARGV[1]), key(id, p, r) (the stored key's suffix of id
// under the current generations of tags p and r), drop(k), which removes a
// stored entry and its bookkeeping, and purges up to 16 entries expired by
// now.
const cacheLib = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local base = ARGV[1]
` + cacheKey + `
local function uncount(tag)
  if tag ~= '' and redis.call('DECR', base .. 'n:' .. tag) <= 0 then redis.call('DEL', base .. 'n:' .. tag) end
end
local function drop(k)
  local meta = redis.call('HGET', base .. 'meta', k)
  redis.call('DEL', base .. 'e:' .. k)
  redis.call('ZREM', base .. 'lru', k)
  redis.call('ZREM', base .. 'exp', k)
  if meta then
    redis.call('HDEL', base .. 'meta', k)
    local size, p, r = string.match(meta, '^(%d+) (%x*) (%x*)$')
    if size then
      redis.call('DECRBY', base .. 'bytes', size)
      uncount(p)
      uncount(r)
    end
  end
end
for _, k in ipairs(redis.call('ZRANGEBYSCORE', base .. 'exp', '-inf', '(' .. string.format('%d', now), 'LIMIT', 0, 16)) do
  drop(k)
end
`

// cacheKey defines key(id, p, r): id under the current generations of
// path tag p and route tag r (either may be empty), the suffix of its
// stored key.
const cacheKey = `
local function gen(tag)
  if tag == '' then return '0' end
  return redis.call('GET', base .. 'g:' .. tag) or '0'
end
local function key(id, p, r) return id .. ':' .. gen(p) .. ':' .. gen(r) end
`

var (
	// ARGV: base, id, path tag, route tag. Returns {entry or nil, gen},
	// and marks the entry used.
	cacheGet = valkey.NewLuaScript(`
local base = ARGV[1]
` + cacheKey + `
local k = key(ARGV[2], ARGV[3], ARGV[4])
local v = redis.call('GET', base .. 'e:' .. k)
if v then
  local t = redis.call('TIME')
  redis.call('ZADD', base .. 'lru', 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), k)
end
return {v, redis.call('GET', base .. 'gen') or '0'}
`)
	// ARGV: base, id, path tag, route tag. Returns {entry or nil, 1 if
	// locked}.
	cachePeek = valkey.NewLuaScript(`
local base = ARGV[1]
` + cacheKey + `
return {redis.call('GET', base .. 'e:' .. key(ARGV[2], ARGV[3], ARGV[4])), redis.call('EXISTS', base .. 'l:' .. ARGV[2])}
`)
	// ARGV: base, id, value, ttl ms, size, max bytes, gen, path tag, route
	// tag, lock token, life ms. Returns 1 if stored, 0 if a revalidation
	// happened since gen.
	cachePut = valkey.NewLuaScript(cacheLib + `
local id, p, r, life = ARGV[2], ARGV[8], ARGV[9], ARGV[11]
local lock = base .. 'l:' .. id
if redis.call('GET', lock) == ARGV[10] then redis.call('DEL', lock) end
if (redis.call('GET', base .. 'gen') or '0') ~= ARGV[7] then return 0 end
local k = key(id, p, r)
drop(k)
redis.call('SET', base .. 'e:' .. k, ARGV[3], 'PX', ARGV[4])
redis.call('ZADD', base .. 'lru', now, k)
redis.call('ZADD', base .. 'exp', now + tonumber(ARGV[4]), k)
redis.call('HSET', base .. 'meta', k, ARGV[5] .. ' ' .. p .. ' ' .. r)
local total = redis.call('INCRBY', base .. 'bytes', ARGV[5])
for _, tag in ipairs({p, r}) do
  if tag ~= '' then
    redis.call('INCR', base .. 'n:' .. tag)
    redis.call('PEXPIRE', base .. 'n:' .. tag, life)
    redis.call('PEXPIRE', base .. 'g:' .. tag, life) -- outlives the entry
  end
end
local max = tonumber(ARGV[6])
while total > max do
  local lru = redis.call('ZRANGE', base .. 'lru', 0, 0)
  if #lru == 0 then break end
  drop(lru[1])
  total = tonumber(redis.call('GET', base .. 'bytes') or '0')
end
for _, name in ipairs({'lru', 'exp', 'meta', 'bytes', 'gen'}) do redis.call('PEXPIRE', base .. name, life) end
return 1
`)
	// ARGV: base, path tag, route tag (may be empty), life ms. A tag's
	// generation is bumped only if it has entries: a guest revalidating
	// paths that hold none adds no key.
	cacheRevalidate = valkey.NewLuaScript(`
local base = ARGV[1]
redis.call('INCR', base .. 'gen')
redis.call('PEXPIRE', base .. 'gen', ARGV[4])
for i = 2, 3 do
  local tag = ARGV[i]
  if tag ~= '' and redis.call('EXISTS', base .. 'n:' .. tag) == 1 then
    redis.call('INCR', base .. 'g:' .. tag)
    redis.call('PEXPIRE', base .. 'g:' .. tag, ARGV[4])
  end
end
return 0
`)
	// KEYS: the lock. ARGV: its token.
	cacheUnlock = valkey.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)
)

// Get returns the entry id of path tag path and route tag route (empty:
// none), nil if there is none (an empty slice for an empty entry), and the
// namespace's revalidation generation, for Put; it marks the entry used.
func (c *Cache) Get(ctx context.Context, id, path, route string) (value []byte, gen string, err error) {
	res, err := cacheGet.Exec(ctx, c.c, c.slot, []string{c.base, id, path, route}).ToArray()
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

// Peek returns the entry id of path tag path and route tag route, nil if
// there is none, and whether a replica holds its lock (is computing it),
// without marking it used.
func (c *Cache) Peek(ctx context.Context, id, path, route string) (value []byte, locked bool, err error) {
	res, err := cachePeek.Exec(ctx, c.c, c.slot, []string{c.base, id, path, route}).ToArray()
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
	n, err := cachePut.Exec(ctx, c.c, c.slot,
		[]string{c.base, id, string(e.Value), strconv.FormatInt(ttl.Milliseconds(), 10), strconv.FormatInt(e.Size, 10), c.max,
			e.Gen, e.Path, e.Route, e.Token, strconv.FormatInt(maxCacheLife.Milliseconds(), 10)}).AsInt64()
	return n == 1, err
}

// Revalidate makes every entry stored with path tag path or route tag
// route (empty: none) unreachable, and bumps the generation, so that no
// answer asked for before is stored after. Its cost does not grow with
// the entries.
func (c *Cache) Revalidate(ctx context.Context, path, route string) error {
	return cacheRevalidate.Exec(ctx, c.c, c.slot, []string{c.base, path, route, strconv.FormatInt(maxCacheLife.Milliseconds(), 10)}).Error()
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
