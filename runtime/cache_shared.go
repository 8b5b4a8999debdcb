package runtime

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/digest"
	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/routes"
)

// The shared response cache (Config.SharedCache) keeps a Server's cached
// answers in the Redis server of its key-value store, in its namespace,
// rather than in process: every replica reads what one stored, and a
// revalidatePath on one is seen by all. Nothing is kept in process, so
// there is nothing to invalidate across replicas; the in-process
// singleflight (join, land) stays in front, and a lock in Redis lets one
// replica at a time compute a missing or stale answer. RATIONALE.md,
// "Shared response cache", says why.

const (
	// sharedTimeout bounds each call to Redis on a request's path: past
	// it, the request is a miss and the handler runs.
	sharedTimeout = 250 * time.Millisecond
	// sharedBackoff is how long the cache is left alone after a failed
	// call (every request runs its handler meanwhile), and how often such
	// a failure is logged at most.
	sharedBackoff = 2 * time.Second
	// sharedStale is how long an entry stays in Redis past its revalidate
	// time, served STALE while one replica refreshes it; an entry kept
	// until revalidatePath stays 7 days (kv's bound), or until it is the
	// least recently used.
	sharedStale = time.Hour
	// sharedOpenWait bounds how long a request waits for the store to
	// open, on the first call or the first after a failure.
	sharedOpenWait = time.Second
	// maxLease bounds how long a replica holds the lock of the answer it
	// computes (its request's MaxWait and MaxDuration, at most this).
	maxLease = 5 * time.Minute
	// maxSharedHeaders bounds the header fields a decoded entry may have.
	maxSharedHeaders = 256
	// maxVaryNames bounds the names of a Vary record: an answer that
	// varies on more is not stored.
	maxVaryNames = 64
)

// sharedCache is a respCache's entries in Redis. It is safe for concurrent
// use.
type sharedCache struct {
	rc    *respCache // its own: closed and bg
	store *store
	name  string // the namespace
	build string // the project's digest: entries are the deploy's own
	max   int64
	log   *slog.Logger

	c          atomic.Pointer[kv.Cache]
	down       atomic.Int64    // Unix ns until which calls are skipped, after a failure
	opening    chan struct{}   // closed when the open under way ends (guarded by rc.mu)
	refreshing map[string]bool // keys a background refresh runs for (guarded by rc.mu)
}

// share makes c keep its entries in ns's Redis server (Config.SharedCache).
// An entry's key holds the digest of the project in dir (the one
// wasmroute build prints), so that the answers of one deploy's code are
// never served by another's: replicas of one deploy share entries, a new
// deploy starts empty, as Next.js's build ID does.
func (c *respCache) share(ns *namespace, dir string, log *slog.Logger) error {
	if c == nil {
		return nil
	}
	build, err := digest.Project(dir)
	if err != nil {
		return fmt.Errorf("the shared response cache: %w", err)
	}
	c.shared = &sharedCache{rc: c, store: ns.store, name: ns.name, build: build, max: c.maxBytes, log: log,
		refreshing: map[string]bool{}}
	return nil
}

// sharedKey names the entry of a request: its id, and the tags of its
// path and route pattern, by which revalidatePath reaches it.
type sharedKey struct{ id, path, route string }

// keyOf is the key of the entry of path (of route rt) for r's Host and
// query.
func (sc *sharedCache) keyOf(path string, rt *route, r *http.Request) sharedKey {
	return sharedKey{sharedID(sc.build, path, r.Host, r.URL.RawQuery), pathTag("path", path), pathTag("route", rt.Pattern)}
}

// sharedCacheProblem says why Config.SharedCache cannot be used with the
// store kvURL, or returns "".
func sharedCacheProblem(kvURL string) string {
	if u, err := url.Parse(kvURL); err == nil && kvURL != "" && slices.Contains(kv.URLSchemes, u.Scheme) {
		return ""
	}
	return "the shared response cache (--shared-cache) lives in Redis: set the key-value store to a Redis or Valkey server (--kv redis://HOST:PORT); the embedded store is one process's"
}

// client returns the cache, or nil while it is failing. The first call
// opens the store in the background (kv.Open may take seconds to give up
// on an unreachable server) and waits for it at most sharedOpenWait.
func (sc *sharedCache) client() *kv.Cache {
	if time.Now().UnixNano() < sc.down.Load() {
		return nil
	}
	if c := sc.c.Load(); c != nil {
		return c
	}
	rc := sc.rc
	rc.mu.Lock()
	done := sc.opening
	if done == nil && !rc.closed {
		done = make(chan struct{})
		sc.opening = done
		rc.bg.Add(1) // under mu: close's Wait never races it
		go sc.open(done)
	}
	rc.mu.Unlock()
	if done == nil {
		return nil // closed
	}
	t := time.NewTimer(sharedOpenWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	return sc.c.Load()
}

// open opens the store and the namespace's cache, then closes done.
func (sc *sharedCache) open(done chan struct{}) {
	defer sc.rc.bg.Done()
	defer func() {
		sc.rc.mu.Lock()
		sc.opening = nil
		sc.rc.mu.Unlock()
		close(done)
	}()
	st, err := sc.store.open(context.Background()) // logs its failure, retried every storeRetry
	if err != nil {
		sc.down.Store(time.Now().Add(sharedBackoff).UnixNano())
		return
	}
	c, err := st.Cache(sc.name, sc.max)
	if err != nil {
		sc.fail("open", err)
		return
	}
	sc.c.Store(c)
}

// fail leaves the cache alone for sharedBackoff after a failed call, and
// logs the failure unless one was logged in the last window.
func (sc *sharedCache) fail(op string, err error) {
	now := time.Now()
	was := sc.down.Load()
	if now.UnixNano() < was || !sc.down.CompareAndSwap(was, now.Add(sharedBackoff).UnixNano()) {
		return
	}
	sc.log.Error("the shared response cache is unavailable: handlers run on every request", "op", op, "namespace", sc.name,
		"retry", sharedBackoff, "err", hideURL(err.Error(), sc.store.cfg.URL))
}

// sharedCall returns a context for one call to Redis, bounded by sharedTimeout,
// whatever the request's own.
func sharedCall(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
}

// sharedID is an entry's id: the SHA-256 of parts, each length-prefixed
// (no two lists of parts give one input), in hex.
func sharedID(parts ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pathTag is the tag of a path, or of a route pattern, in Redis.
func pathTag(kind, p string) string { return sharedID(kind, p) }

// lookup returns the entry for r (of key k), nil on a miss, the
// namespace's generation for a later store, and false when Redis failed.
// An entry that does not decode is a miss, logged.
func (sc *sharedCache) lookup(ctx context.Context, c *kv.Cache, k sharedKey, r *http.Request) (*entry, string, bool) {
	return sc.find(ctx, c, k, r, true)
}

// find is lookup, logging an entry that does not decode if logCorrupt.
func (sc *sharedCache) find(ctx context.Context, c *kv.Cache, k sharedKey, r *http.Request, logCorrupt bool) (*entry, string, bool) {
	ctx, cancel := sharedCall(ctx)
	defer cancel()
	b, gen, err := c.Get(ctx, k.id, k.path, k.route)
	if err != nil {
		sc.fail("get", err)
		return nil, "", false
	}
	if len(b) > 0 && b[0] == kindVary {
		names, ok := decodeVary(b)
		if !ok {
			sc.corrupted(k.id, logCorrupt)
			return nil, gen, true
		}
		if b, _, err = c.Get(ctx, sharedID(k.id, varyKey(names, r.Header)), k.path, k.route); err != nil {
			sc.fail("get", err)
			return nil, "", false
		}
	}
	if b == nil {
		return nil, gen, true
	}
	e, ok := decodeEntry(b)
	if !ok {
		sc.corrupted(k.id, logCorrupt)
		return nil, gen, true
	}
	return e, gen, true
}

func (sc *sharedCache) corrupted(id string, log bool) {
	if !log {
		return
	}
	sc.log.Warn("a shared cache entry does not decode: served as a miss, and replaced", "namespace", sc.name, "id", id)
}

// serveShared is serveCached for a shared cache: r is a GET or HEAD of a
// cached route whose key is within maxCacheKey.
func (s *Server) serveShared(w http.ResponseWriter, r *http.Request, path string, rt *route, params []routes.Param) {
	c := s.responses
	sc := c.shared
	k := sc.keyOf(path, rt, r)
	cl := sc.client()
	var gen string
	if cl != nil {
		e, g, ok := sc.lookup(r.Context(), cl, k, r)
		if e != nil {
			s.serveSharedEntry(w, r, rt, path, params, e)
			return
		}
		if !ok {
			cl = nil // no store either: Redis is failing
		}
		gen = g
	}
	r = cacheRequest(r)
	if r.Method == http.MethodHead || cl == nil {
		// A HEAD's body is never written, and nothing is stored while
		// Redis fails: no follower would find an answer to wait for.
		s.serve(newCapture(w, 0, true), r, rt, methodGET, params)
		return
	}
	key := path + "\x00" + hostQuery(r)
	f, leader, _ := c.join(key)
	if !leader {
		f.follow(r, rt.limits.MaxWait)
		if e, _, _ := sc.lookup(r.Context(), cl, k, r); e != nil {
			s.serveSharedEntry(w, r, rt, path, params, e)
			return
		}
		s.serve(newCapture(w, 0, true), r, rt, methodGET, params)
		return
	}
	defer c.land(key, f)
	token := rand.Text()
	ctx, cancel := sharedCall(r.Context())
	got, err := cl.Lock(ctx, k.id, token, lease(rt))
	cancel()
	switch {
	case err != nil:
		sc.fail("lock", err)
		cl, token = nil, ""
		f.release() // nothing will be stored
	case !got:
		// Another replica computes it: wait for its answer, as the
		// followers here wait for this one's.
		token = ""
		if e := s.awaitShared(r.Context(), cl, k, r, rt); e != nil {
			s.serveSharedEntry(w, r, rt, path, params, e)
			return
		}
	default:
		defer func() { sc.unlock(r.Context(), cl, k, token) }() // unless keep released it
		// Another replica may have stored it since the lookup.
		if e, _, _ := sc.find(r.Context(), cl, k, r, false); e != nil {
			s.serveSharedEntry(w, r, rt, path, params, e)
			return
		}
	}
	a := newCapture(w, c.maxEntry, false)
	a.unstorable = f.release
	s.serve(a, r, rt, methodGET, params)
	a.complete = true
	if cl != nil && a.cacheable() {
		sc.keep(r.Context(), cl, rt, k, r, a, gen, token)
		token = ""
	}
}

// lease is how long a replica may hold the lock of an answer of rt's.
func lease(rt *route) time.Duration {
	return min(rt.limits.MaxWait+rt.limits.MaxDuration, maxLease)
}

// awaitShared waits, at most rt's MaxWait, for the answer another replica
// computes under k's lock: it returns it, or nil when the lock went
// without an answer (not cacheable, or the replica failed) or the wait is
// over; then the caller runs the handler itself.
func (s *Server) awaitShared(ctx context.Context, cl *kv.Cache, k sharedKey, r *http.Request, rt *route) *entry {
	sc := s.responses.shared
	deadline := time.Now().Add(rt.limits.MaxWait)
	for pause := 5 * time.Millisecond; time.Now().Before(deadline); pause = min(2*pause, 50*time.Millisecond) {
		select {
		case <-ctx.Done():
			panic(http.ErrAbortHandler) // the client left
		case <-time.After(pause):
		}
		cctx, cancel := sharedCall(ctx)
		b, locked, err := cl.Peek(cctx, k.id, k.path, k.route)
		cancel()
		switch {
		case err != nil:
			sc.fail("peek", err)
			return nil
		case b != nil:
			// A Vary record or an entry: lookup reads it, with the variant.
			e, _, _ := sc.lookup(ctx, cl, k, r)
			return e
		case !locked:
			return nil
		}
	}
	return nil
}

// serveSharedEntry answers w from e, and starts its refresh when it is
// stale.
func (s *Server) serveSharedEntry(w http.ResponseWriter, r *http.Request, rt *route, path string, params []routes.Param, e *entry) {
	age := max(time.Since(e.stored), 0)
	stale := rt.cache.ttl > 0 && age >= rt.cache.ttl
	if stale {
		s.refreshShared(rt, path, r, params)
	}
	e.write(w, r, age, stale)
}

// refreshShared refreshes a stale entry in the background, as refresh
// does, if this replica takes its lock in Redis: one replica at a time
// refreshes it, the others serve it stale meanwhile.
func (s *Server) refreshShared(rt *route, path string, r *http.Request, params []routes.Param) {
	c := s.responses
	sc := c.shared
	key := path + "\x00" + hostQuery(r)
	c.mu.Lock()
	start := !c.closed && !sc.refreshing[key] && c.flights[key] == nil &&
		c.running[rt.pool] < maxRefreshes(rt) && instanceFree(rt.pool)
	if start {
		sc.refreshing[key] = true
		c.running[rt.pool]++
		c.bg.Add(1)
	}
	c.mu.Unlock()
	if !start {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, rt.limits.MaxWait+rt.limits.MaxDuration)
	req := refreshRequest(ctx, r)
	params = slices.Clone(params)
	k := sc.keyOf(path, rt, r)
	go func() {
		defer c.bg.Done()
		defer cancel()
		defer func() {
			c.mu.Lock()
			delete(sc.refreshing, key)
			if c.running[rt.pool]--; c.running[rt.pool] == 0 {
				delete(c.running, rt.pool)
			}
			c.mu.Unlock()
		}()
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				s.log.Error("cache refresh failed", "route", rt.Pattern, "path", path, "err", v)
			}
		}()
		cl := sc.client()
		if cl == nil {
			return
		}
		token := rand.Text()
		lctx, lcancel := sharedCall(ctx)
		got, err := cl.Lock(lctx, k.id, token, lease(rt))
		lcancel()
		if err != nil {
			sc.fail("lock", err)
		}
		if !got {
			return // another replica refreshes it
		}
		// Another replica may have refreshed it since this one found it
		// stale.
		e, gen, _ := sc.find(ctx, cl, k, req, false)
		if e == nil || time.Since(e.stored) < rt.cache.ttl {
			sc.unlock(ctx, cl, k, token)
			return
		}
		a := s.refill(rt, path, req, params)
		if a == nil {
			sc.unlock(ctx, cl, k, token)
			return
		}
		sc.keep(ctx, cl, rt, k, req, a, gen, token)
	}()
}

// keep keeps the answer a capture recorded (cacheable) in Redis, under
// k, or under its variant's id with a Vary record under k, and releases
// k's lock if token holds it.
func (sc *sharedCache) keep(ctx context.Context, cl *kv.Cache, rt *route, k sharedKey, r *http.Request, a *capture, gen, token string) {
	vary := varyNames(a.header) // not "*": a.cacheable()
	ttl := sharedStale + rt.cache.ttl
	if rt.cache.ttl == 0 {
		ttl = 7 * 24 * time.Hour // until revalidatePath, within kv's bound
	}
	put := kv.Entry{ID: k.id, TTL: ttl, Path: k.path, Route: k.route, Gen: gen, Token: token}
	put.Value = encodeEntry(a, time.Now())
	put.Size = int64(len(put.Value)) + entryOverhead
	if put.Size > max(sc.max/32, 1) || len(vary) > maxVaryNames {
		sc.unlock(ctx, cl, k, token)
		return
	}
	if len(vary) > 0 {
		// The variant first, then the Vary record that leads to it (and
		// releases the lock).
		variant := put
		variant.ID, variant.Token = sharedID(k.id, varyKey(vary, r.Header)), ""
		sc.put(ctx, cl, variant)
		put.Value = encodeVary(vary)
		put.Size = int64(len(put.Value)) + entryOverhead
	}
	sc.put(ctx, cl, put)
}

// unlock releases k's lock if token (if any) holds it.
func (sc *sharedCache) unlock(ctx context.Context, cl *kv.Cache, k sharedKey, token string) {
	if token == "" {
		return
	}
	ctx, cancel := sharedCall(ctx)
	defer cancel()
	cl.Unlock(ctx, k.id, token)
}

func (sc *sharedCache) put(ctx context.Context, cl *kv.Cache, e kv.Entry) {
	ctx, cancel := sharedCall(ctx)
	defer cancel()
	if _, err := cl.Put(ctx, e); err != nil {
		sc.fail("put", err)
	}
}

// revalidate drops the entries of escaped (a path's normal form), or of
// the route pattern, on every replica.
func (sc *sharedCache) revalidate(escaped, pattern string) error {
	cl := sc.client()
	if cl == nil {
		return errUnshared
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*sharedTimeout)
	defer cancel()
	route := ""
	if pattern != "" {
		route = pathTag("route", pattern)
	}
	if err := cl.Revalidate(ctx, pathTag("path", escaped), route); err != nil {
		sc.fail("revalidate", err)
		return errUnshared
	}
	return nil
}

var errUnshared = errors.New("the shared response cache is unavailable (the server's log says why)")

// An entry in Redis is, after its kind byte kindEntry:
//
//	stored-at  8 bytes, Unix ms, big-endian
//	status     2 bytes, big-endian (200)
//	fields     uvarint, then each field: name (uvarint length, bytes),
//	           values (uvarint count, then each: uvarint length, bytes)
//	body       uvarint length, bytes; nothing after it
//
// A Vary record is kindVary, a uvarint count, then each name (uvarint
// length, bytes). Whatever Redis returns is read as hostile: every length
// is checked against the bytes left before anything is allocated for it,
// and an entry that does not decode exactly is a miss.
const (
	kindEntry = 'E'
	kindVary  = 'V'
)

func encodeEntry(a *capture, now time.Time) []byte {
	b := make([]byte, 0, 16+len(a.body)+64*len(a.header))
	b = append(b, kindEntry)
	b = binary.BigEndian.AppendUint64(b, uint64(now.UnixMilli()))
	b = binary.BigEndian.AppendUint16(b, uint16(a.status))
	names := make([]string, 0, len(a.header))
	for name := range a.header {
		if !skipStored(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendString(b, name)
		b = binary.AppendUvarint(b, uint64(len(a.header[name])))
		for _, v := range a.header[name] {
			b = appendString(b, v)
		}
	}
	return appendString(b, string(a.body))
}

func encodeVary(names []string) []byte {
	b := binary.AppendUvarint([]byte{kindVary}, uint64(len(names)))
	for _, n := range names {
		b = appendString(b, n)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads an entry's fields, each checked against what is left.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items of at least min bytes each.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.bad = true
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func decodeEntry(b []byte) (*entry, bool) {
	if len(b) < 1+8+2 || b[0] != kindEntry {
		return nil, false
	}
	ms := int64(binary.BigEndian.Uint64(b[1:]))
	status := binary.BigEndian.Uint16(b[9:])
	if status != http.StatusOK || ms <= 0 {
		return nil, false
	}
	d := &decoder{b: b[11:]}
	fields := d.count(2)
	if fields > maxSharedHeaders {
		return nil, false
	}
	e := &entry{stored: time.UnixMilli(ms), header: make([]headerValues, 0, fields+1)}
	for range fields {
		name := string(d.bytes())
		values := make([]string, d.count(1))
		for i := range values {
			values[i] = string(d.bytes())
			if !abi.ValidHeaderValue(values[i]) {
				d.bad = true
			}
		}
		if d.bad || !abi.ValidHeaderName(name) || name != http.CanonicalHeaderKey(name) || skipStored(name) || len(values) == 0 {
			return nil, false
		}
		e.header = append(e.header, headerValues{name, values})
	}
	e.body = d.bytes()
	if d.bad || len(d.b) != 0 {
		return nil, false
	}
	e.header = append(e.header, headerValues{"Content-Length", []string{strconv.Itoa(len(e.body))}})
	return e, true
}

func decodeVary(b []byte) ([]string, bool) {
	d := &decoder{b: b[1:]}
	names := make([]string, d.count(1))
	if len(names) > maxVaryNames {
		return nil, false
	}
	for i := range names {
		names[i] = string(d.bytes())
		if d.bad || !abi.ValidHeaderName(names[i]) {
			return nil, false
		}
	}
	return names, !d.bad && len(d.b) == 0
}
