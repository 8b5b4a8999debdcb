package runtime

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmroute/wasmroute/internal/jsbuild"
	"github.com/wasmroute/wasmroute/internal/routes"
)

// The response cache keeps the GET answers of the routes that opt in
// (revalidate or dynamic: "force-static", in route.json or as a TypeScript
// route's segment config), one cache per Server (project or tenant),
// bounded in bytes, least recently used out. RATIONALE.md says why each
// choice was made.

// CacheHeader is the header on every answer of a cached route: HIT (from
// the cache, fresh), STALE (from the cache, past its revalidate time, being
// refreshed in the background) or MISS (the handler ran).
const CacheHeader = "X-Wasmroute-Cache"

const (
	defaultMaxCacheBytes = 64 << 20
	// maxVariants bounds the answers kept for one host, path and query, told
	// apart by the request headers their Vary names.
	maxVariants = 16
	// entryOverhead is what an entry costs beyond its bytes: its maps,
	// list element and strings' headers, roughly.
	entryOverhead = 256
	// maxCacheKey bounds a cached request's path, Host and query: a longer
	// one runs the handler and stores nothing (a key is held twice per
	// entry, and a 32 KiB query is nobody's static page).
	maxCacheKey = 8 << 10
)

// seen are the only request headers a cached route's handler sees (its
// Host is in the key): its answer is stored for everyone, so it must not
// depend on anything of one user's, whether the client sent it (Cookie,
// Authorization), an auth proxy added it (X-Forwarded-User) or a
// middleware set it from the session. These three are content
// negotiation: a handler that reads one names it in its Vary.
var seen = []string{"Accept", "Accept-Encoding", "Accept-Language"}

// isSeen reports whether name, canonical, is one of seen.
func isSeen(name string) bool {
	return name == "Accept" || name == "Accept-Encoding" || name == "Accept-Language"
}

// cacheRule is a route's caching, from its segment config.
type cacheRule struct {
	on  bool
	ttl time.Duration // how long an answer stays fresh; 0: until revalidatePath
}

// revalidate is route.json's revalidate: seconds, or false (for good).
type revalidate float64

func (v *revalidate) UnmarshalJSON(b []byte) error {
	if string(b) == "false" {
		*v = revalidate(math.Inf(1))
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("want seconds (a number ≥ 0) or false, got %.40s", b)
	}
	*v = revalidate(f)
	return nil
}

// checkCache checks a config file's cache keys: revalidate and dynamic
// belong in a route's route.json, maxCacheBytes in wasmroute.json.
func (c fileConfig) checkCache(routeFile bool) []string {
	var problems []string
	switch {
	case !routeFile && (c.Revalidate != nil || c.Dynamic != ""):
		problems = append(problems, "revalidate and dynamic belong in a route's route.json")
	case routeFile && c.MaxCacheBytes != 0:
		problems = append(problems, "maxCacheBytes belongs in the project's wasmroute.json")
	}
	switch c.Dynamic {
	case "", "auto", "force-dynamic", "error", "force-static":
	default:
		problems = append(problems, fmt.Sprintf("dynamic %q is none of \"auto\", \"force-dynamic\", \"error\", \"force-static\"", c.Dynamic))
	}
	return problems
}

// cacheRuleOf returns a route's caching from its route.json (conf, read
// from confFile) and, for a JavaScript route, its segment config: each key
// set in one place only. As in Next.js, dynamic "force-dynamic" or
// revalidate 0 caches nothing, revalidate N keeps an answer fresh N
// seconds, and "force-static" (or "error") without revalidate keeps it
// until revalidatePath.
func cacheRuleOf(file, confFile string, conf fileConfig, js *jsbuild.SegmentConfig) (cacheRule, []string) {
	dynamic, rev := conf.Dynamic, (*float64)(conf.Revalidate)
	var errs []string
	if js != nil {
		if js.Dynamic != "" {
			if dynamic != "" {
				errs = append(errs, fmt.Sprintf("%s: exports dynamic and %s sets it too: keep one", file, confFile))
			}
			dynamic = js.Dynamic
		}
		if js.Revalidate != nil {
			if rev != nil {
				errs = append(errs, fmt.Sprintf("%s: exports revalidate and %s sets it too: keep one", file, confFile))
			}
			rev = js.Revalidate
		}
	}
	switch {
	case dynamic == "force-dynamic" || rev != nil && *rev == 0:
		return cacheRule{}, errs
	case rev != nil:
		ttl := time.Duration(0) // for good
		if *rev < float64(100*365*24*time.Hour/time.Second) {
			ttl = max(time.Duration(*rev*float64(time.Second)), time.Millisecond)
		}
		return cacheRule{on: true, ttl: ttl}, errs
	case dynamic == "force-static" || dynamic == "error":
		return cacheRule{on: true}, errs
	}
	return cacheRule{}, errs
}

// cacheBytes returns the project's cache bound: Config.MaxCacheBytes (0:
// the default, negative: no cache), lowered by wasmroute.json's
// maxCacheBytes, never raised.
func cacheBytes(ceiling int64, project fileConfig) (int64, error) {
	switch {
	case ceiling < 0:
		ceiling = 0
	case ceiling == 0:
		ceiling = defaultMaxCacheBytes
	}
	if n := int64(project.MaxCacheBytes); n != 0 {
		if n > ceiling {
			return ceiling, fmt.Errorf("wasmroute.json: maxCacheBytes %s is above the operator's ceiling of %s", FormatSize(n), FormatSize(ceiling))
		}
		return n, nil
	}
	return ceiling, nil
}

// respCache is a Server's response cache. It is safe for concurrent use; a
// nil *respCache caches nothing.
type respCache struct {
	maxBytes int64
	maxEntry int64 // an answer larger than this is not stored: maxBytes/32

	ctx    context.Context // background refreshes' parent, ended by close
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool // no refresh starts once set
	size    int64
	gen     uint64                          // bumped by every revalidation
	tick    uint64                          // bumped by every lookup that finds and store: entry.used
	keys    map[string]*variants            // path, NUL, Host, NUL, raw query → answers: a hit's one lookup
	paths   map[string]map[string]*variants // path → Host and raw query (hostQuery) → answers, for revalidatePath
	byRoute map[string]map[*entry]struct{}  // route pattern → its entries, for revalidatePath("/blog/[slug]")
	lru     list.List                       // *entry, most recently used first
	flights map[string]*flight              // misses being answered, by path, Host and query
	running map[*pool]int                   // background refreshes running, by route (its pool)

	shared *sharedCache // set: the entries live in Redis, not above (cache_shared.go)
}

// variants are the answers stored for one host, path and query.
type variants struct {
	vary []string          // the header names the answers vary on, canonical
	by   map[string]*entry // by the request's values of those headers
}

// entry is one stored answer. Its header and body never change once
// stored; a newer answer replaces the entry.
type entry struct {
	path, query, vary string // query: the Host and raw query, as hostQuery
	route             string // the route's pattern, for revalidatePath("/blog/[slug]")

	header []headerValues // Content-Length included
	body   []byte
	stored time.Time
	ttl    time.Duration // 0: fresh until revalidated
	size   int64

	elem       *list.Element
	used       uint64 // respCache.tick when last stored or found: the least recently used variant goes
	refreshing bool   // a background refresh runs (guarded by respCache.mu)
}

type headerValues struct {
	name   string
	values []string // clipped: appending to them copies
}

// flight is a miss being answered: requests for the same key
// wait for it rather than all run the handler, until it is done or its
// leader knows its answer will not be stored (released).
type flight struct {
	done     chan struct{}
	released chan struct{}
	once     sync.Once
}

// release lets the followers go: the answer will not be stored.
func (f *flight) release() { f.once.Do(func() { close(f.released) }) }

// follow waits for the leader's answer to r, at most maxWait (a slow
// client may lead, and a follower must not wait for it longer than for an
// instance), and not once the leader knows it will store nothing. If r's
// client leaves, it aborts, as serve does: never an empty 200.
func (f *flight) follow(r *http.Request, maxWait time.Duration) {
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	select {
	case <-f.done:
	case <-f.released:
	case <-timer.C:
	case <-r.Context().Done():
		panic(http.ErrAbortHandler)
	}
}

func newRespCache(maxBytes int64) *respCache {
	if maxBytes <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &respCache{maxBytes: maxBytes, maxEntry: max(maxBytes/32, 1), ctx: ctx, cancel: cancel,
		keys: map[string]*variants{}, paths: map[string]map[string]*variants{}, byRoute: map[string]map[*entry]struct{}{}, flights: map[string]*flight{}, running: map[*pool]int{}}
}

// close ends the background refreshes and waits for them.
func (c *respCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.bg.Wait()
}

// Cache states, as CacheHeader says them, in slices shared by every answer
// (clipped: a handler that appends to one copies it).
var (
	cacheHit   = []string{"HIT"}
	cacheStale = []string{"STALE"}
	cacheMiss  = []string{"MISS"}
	ages       = func() (a [120][]string) {
		for i := range a {
			a[i] = []string{strconv.Itoa(i)}
		}
		return a
	}()
)

// lookup returns the answer stored for r, if any, its age and whether it
// is stale; refresh is true for the one caller that must refresh it.
func (c *respCache) lookup(path string, r *http.Request) (e *entry, age time.Duration, stale, refresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var buf [256]byte // the key, on the stack unless it is longer
	k := append(append(append(append(append(buf[:0], path...), 0), r.Host...), 0), r.URL.RawQuery...)
	v := c.keys[string(k)]
	if v == nil {
		return nil, 0, false, false
	}
	if len(v.vary) == 0 {
		e = v.by[""]
	} else {
		e = v.by[varyKey(v.vary, r.Header)]
	}
	if e == nil {
		return nil, 0, false, false
	}
	c.lru.MoveToFront(e.elem)
	c.tick++
	e.used = c.tick
	age = time.Since(e.stored) // the monotonic clock alone: half of time.Now's cost
	stale = e.ttl > 0 && age >= e.ttl
	if stale && !e.refreshing {
		e.refreshing, refresh = true, true
	}
	return e, age, stale, refresh
}

// write answers w from e, age old.
func (e *entry) write(w http.ResponseWriter, r *http.Request, age time.Duration, stale bool) {
	h := w.Header()
	for _, kv := range e.header {
		h[kv.name] = kv.values
	}
	h[CacheHeader] = cacheHit
	if stale {
		h[CacheHeader] = cacheStale
	}
	if secs := int(age / time.Second); secs < len(ages) {
		h["Age"] = ages[max(secs, 0)]
	} else {
		h["Age"] = []string{strconv.Itoa(secs)}
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(e.body)
	}
}

// varyKey is the request's values of the headers names, told apart. Only
// the headers the handler sees count: the others are the same (none) for
// every request, on a lookup as on a store.
func varyKey(names []string, h http.Header) string {
	var b strings.Builder
	for _, name := range names {
		if !isSeen(name) {
			b.WriteByte(1)
			continue
		}
		for _, v := range h[name] {
			b.WriteString(v)
			b.WriteByte(0)
		}
		b.WriteByte(1)
	}
	return b.String()
}

// join returns the flight of key and whether the caller leads it (then it
// must call land).
func (c *respCache) join(key string) (f *flight, leader bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flights[key]; f != nil {
		return f, false, 0
	}
	f = &flight{done: make(chan struct{}), released: make(chan struct{})}
	c.flights[key] = f
	return f, true, c.gen
}

func (c *respCache) land(key string, f *flight) {
	c.mu.Lock()
	delete(c.flights, key)
	c.mu.Unlock()
	close(f.done)
}

// refreshed marks e's refresh over, whatever its outcome: a failed one
// leaves e stale, for the next request to try again. p is its route's
// pool when the refresh was counted in running.
func (c *respCache) refreshed(e *entry, p *pool) {
	c.mu.Lock()
	e.refreshing = false
	if p != nil {
		if c.running[p]--; c.running[p] == 0 {
			delete(c.running, p)
		}
	}
	c.mu.Unlock()
}

// maxRefreshes returns how many background refreshes a route runs at
// once: a quarter of its instances, at least one.
func maxRefreshes(rt *route) int { return max(1, rt.limits.MaxInstances/4) }

// instanceFree reports whether p (and its tenant) could give an instance
// without waiting, as far as one can tell without taking it.
func instanceFree(p *pool) bool {
	return len(p.sem) < cap(p.sem) && len(p.tenant) < cap(p.tenant)
}

// store keeps the answer a capture recorded for path and query (as
// hostQuery), unless a
// revalidation happened since gen (the answer may predate what it
// invalidated) or the answer is not cacheable.
func (c *respCache) store(rt *route, path, query string, r *http.Request, a *capture, gen uint64, now time.Time) {
	if !a.cacheable() {
		return
	}
	vary := varyNames(a.header)
	if slices.Contains(vary, "*") {
		return
	}
	e := &entry{path: path, query: query, route: rt.Pattern, body: a.body, stored: now, ttl: rt.cache.ttl}
	if len(vary) > 0 {
		e.vary = varyKey(vary, r.Header)
	}
	// The key is held twice: by paths (path and query, e's own strings) and
	// by keys (the two joined, a string of its own).
	e.size = int64(len(a.body)+2*(len(path)+len(query))+1+len(e.vary)+len(e.route)) + entryOverhead
	for name, values := range a.header {
		if skipStored(name) {
			continue
		}
		e.header = append(e.header, headerValues{name, slices.Clip(slices.Clone(values))})
		e.size += int64(len(name))
		for _, v := range values {
			e.size += int64(len(v))
		}
	}
	e.header = append(e.header, headerValues{"Content-Length", []string{strconv.Itoa(len(a.body))}})
	if e.size > c.maxEntry {
		return
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	byQuery := c.paths[path]
	if byQuery == nil {
		byQuery = map[string]*variants{}
		c.paths[path] = byQuery
	}
	v := byQuery[query]
	if v == nil {
		v = &variants{by: map[string]*entry{}}
		byQuery[query] = v
		c.keys[path+"\x00"+query] = v
	}
	if !slices.Equal(v.vary, vary) { // the answers now vary otherwise
		for _, old := range v.by {
			c.remove(old, false)
		}
		clear(v.by)
		v.vary = vary
	}
	if old := v.by[e.vary]; old != nil {
		c.remove(old, false)
	} else if len(v.by) >= maxVariants {
		// The least recently used variant goes: refusing the new one would
		// let 16 junk values shut every real user's out for good.
		var lru *entry
		for _, old := range v.by {
			if lru == nil || old.used < lru.used {
				lru = old
			}
		}
		c.remove(lru, true)
	}
	c.tick++
	e.used = c.tick
	v.by[e.vary] = e
	of := c.byRoute[e.route]
	if of == nil {
		of = map[*entry]struct{}{}
		c.byRoute[e.route] = of
	}
	of[e] = struct{}{}
	e.elem = c.lru.PushFront(e)
	c.size += e.size
	for c.size > c.maxBytes {
		c.remove(c.lru.Back().Value.(*entry), true)
	}
}

// remove drops e; unlink also drops it from paths.
func (c *respCache) remove(e *entry, unlink bool) {
	c.lru.Remove(e.elem)
	c.size -= e.size
	if of := c.byRoute[e.route]; len(of) <= 1 {
		delete(c.byRoute, e.route)
	} else {
		delete(of, e)
	}
	if !unlink {
		return
	}
	byQuery := c.paths[e.path]
	v := byQuery[e.query]
	delete(v.by, e.vary)
	if len(v.by) == 0 {
		delete(byQuery, e.query)
		delete(c.keys, e.path+"\x00"+e.query)
	}
	if len(byQuery) == 0 {
		delete(c.paths, e.path)
	}
}

// RevalidatePath drops the answers stored for path, whatever their query
// and variants, or, when path is a route's pattern such as
// "/blog/[slug]", every answer of that route: the next request runs the
// handler. It implements host.Revalidator for cache_revalidate.
func (c *respCache) RevalidatePath(path string) error {
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") {
		return errors.New("want a path that starts with / and has no query")
	}
	if c == nil {
		return nil
	}
	escaped := path
	if u, err := url.Parse(path); err == nil {
		escaped = cleanPath(u.EscapedPath())
	}
	escaped = normalEscapes(escaped)
	if c.shared != nil {
		pattern := ""
		if strings.Contains(path, "[") {
			pattern = path
		}
		return c.shared.revalidate(escaped, pattern)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, v := range c.paths[escaped] {
		for _, e := range v.by {
			c.remove(e, true)
		}
	}
	if strings.Contains(path, "[") {
		for e := range c.byRoute[path] { // remove deletes from it: allowed
			c.remove(e, true)
		}
	}
	return nil
}

// normalEscapes returns an escaped path in the one form the cache keys
// on (RFC 3986 §6.2.2): an escaped unreserved character decoded
// (/blog/%68ello is /blog/hello), the hex digits of the other escapes in
// upper case. A cached route redirects a request for another form to it,
// and revalidatePath drops the entries of its normal form: an alias would
// otherwise be an entry of its own that revalidatePath of the path leaves
// in place.
func normalEscapes(p string) string {
	i := strings.IndexByte(p, '%')
	if i < 0 {
		return p // the common case: no allocation
	}
	b := []byte(p[:i])
	for ; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b = append(b, p[i])
			continue
		}
		if c := unhex(p[i+1])<<4 | unhex(p[i+2]); unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', upperHex(p[i+1]), upperHex(p[i+2]))
		}
		i += 2
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// unreserved reports RFC 3986's unreserved characters.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// varyNames lists the header names h's Vary names, canonical and sorted.
func varyNames(h http.Header) []string {
	var names []string
	for _, v := range h.Values("Vary") {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				names = append(names, http.CanonicalHeaderKey(name))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// skipStored reports the headers an entry does not keep: the connection's,
// the server's own (Date) and the cache's, set afresh on each answer.
func skipStored(name string) bool {
	switch name {
	case "Connection", "Keep-Alive", "Transfer-Encoding", "Trailer", "Te", "Upgrade", "Proxy-Connection",
		"Date", "Age", "Content-Length", CacheHeader:
		return true
	}
	return false
}

// capture passes a response to its ResponseWriter and records it: its
// status, the header it was sent with and its body while within max bytes.
type capture struct {
	http.ResponseWriter
	max      int64
	before   []string // the header names set before the handler ran: not its own
	status   int
	header   http.Header
	body     []byte
	over     bool // the body passed max: not kept
	failed   bool // a write failed: the body may be incomplete
	noBody   bool // a HEAD: the handler's body was not written
	complete bool // the handler returned normally

	// unstorable, if set, is called (at most once) as soon as the answer
	// is known not to be storable, before the handler returns.
	unstorable func()
}

// refuse calls c.unstorable, once.
func (c *capture) refuse() {
	if c.unstorable != nil {
		c.unstorable()
		c.unstorable = nil
	}
}

func newCapture(w http.ResponseWriter, max int64, head bool) *capture {
	c := &capture{ResponseWriter: w, max: max, noBody: head}
	for name := range w.Header() {
		c.before = append(c.before, name)
	}
	return c
}

func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *capture) WriteHeader(status int) {
	if c.status == 0 && status >= 200 {
		c.status = status
		h := c.ResponseWriter.Header()
		c.header = h.Clone()
		for _, name := range c.before {
			delete(c.header, name)
		}
		h[CacheHeader] = cacheMiss
		if !shareable(c.status, c.header) {
			c.refuse()
		}
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if !c.over {
		if int64(len(c.body)+len(b)) > c.max {
			c.over, c.body = true, nil
			c.refuse()
		} else {
			c.body = append(c.body, b...)
		}
	}
	n, err := c.ResponseWriter.Write(b)
	if err != nil {
		c.failed = true
		c.refuse()
	}
	return n, err
}

// cacheable reports whether the recorded answer may be stored: the
// handler returned, a complete 200 within the size bound, nothing in its
// header that makes it one client's (Set-Cookie, Cache-Control private),
// nothing that forbids storing it (no-store, no-cache).
func (c *capture) cacheable() bool {
	return c.complete && !c.over && !c.failed && !c.noBody && shareable(c.status, c.header)
}

// shareable reports whether an answer with status and header may be
// stored for everyone: a 200 with no Set-Cookie, no Vary: *, no
// Cache-Control private, no-store or no-cache.
func shareable(status int, h http.Header) bool {
	if status != http.StatusOK || len(h["Set-Cookie"]) > 0 || slices.Contains(varyNames(h), "*") {
		return false
	}
	for _, v := range h["Cache-Control"] {
		for d := range strings.SplitSeq(v, ",") {
			d, _, _ = strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(d) {
			case "private", "no-store", "no-cache":
				return false
			}
		}
	}
	return true
}

// discard is the ResponseWriter of a background refresh: its answer goes
// only to the cache.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// cacheRequest returns r as a cached route's handler sees it: the
// headers of seen only, no client address and no body (a GET's body is not
// part of the key, so the answer must not depend on it).
func cacheRequest(r *http.Request) *http.Request {
	r = r.WithContext(r.Context())
	r.Body, r.ContentLength = http.NoBody, 0
	r.RemoteAddr = ""
	r.Header = seenHeader(r.Header)
	return r
}

// seenHeader returns the values of h's headers in seen, copied.
func seenHeader(h http.Header) http.Header {
	out := make(http.Header, len(seen))
	for _, name := range seen {
		if v, ok := h[name]; ok {
			out[name] = slices.Clone(v)
		}
	}
	return out
}

// serveCached serves a GET or HEAD of a cached route: from the cache when
// it holds the answer, else by running the handler once for all the
// requests of the same path and query that arrive meanwhile, storing its
// answer if it may be.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, path string, rt *route, params []routes.Param) {
	c := s.responses
	if n := normalEscapes(path); n != path {
		// An alias (/blog/%68ello): its handler would see, and might
		// write, the alias, and it might not even be the route of the
		// normal form (a static /blog/hello): send it there instead.
		redirect(w, r, n)
		return
	}
	if len(path)+len(r.Host)+len(r.URL.RawQuery) > maxCacheKey {
		s.serve(newCapture(w, 0, true), cacheRequest(r), rt, methodGET, params)
		return
	}
	if c.shared != nil {
		s.serveShared(w, r, path, rt, params)
		return
	}
	e, age, stale, refresh := c.lookup(path, r)
	if e != nil {
		if refresh {
			s.refresh(rt, path, r, params, e)
		}
		e.write(w, r, age, stale)
		return
	}
	r = cacheRequest(r)
	if r.Method == http.MethodHead {
		// Its body is never written, so it stores nothing: it does not
		// lead a flight that GETs would wait on in vain.
		s.serve(newCapture(w, 0, true), r, rt, methodGET, params)
		return
	}
	query := hostQuery(r)
	key := path + "\x00" + query
	f, leader, gen := c.join(key)
	if !leader {
		f.follow(r, rt.limits.MaxWait)
		if e, age, stale, refresh := c.lookup(path, r); e != nil {
			if refresh {
				s.refresh(rt, path, r, params, e)
			}
			e.write(w, r, age, stale)
			return
		}
		// Not stored (not cacheable, or another variant): run it.
		a := newCapture(w, 0, true)
		s.serve(a, r, rt, methodGET, params)
		return
	}
	defer c.land(key, f)
	a := newCapture(w, c.maxEntry, false)
	a.unstorable = f.release
	s.serve(a, r, rt, methodGET, params)
	a.complete = true
	c.store(rt, path, query, r, a, gen, time.Now())
}

// hostQuery is an entry's key below its path: the request's Host and raw
// query. The Host is part of it because a handler may write it into its
// answer (a JavaScript request's url is made from it): a request with
// another Host must not fill the entry others read.
func hostQuery(r *http.Request) string { return r.Host + "\x00" + r.URL.RawQuery }

// refresh runs the handler of a stale entry in the background, with a
// request of its own (see RATIONALE.md, "Response cache"): r's method
// GET, URL, Host and the headers a handler sees (seen), bounded by the
// route's limits and by the Server's life.
//
// A refresh is never urgent (the stale answer is served meanwhile), so it
// does not queue for an instance: when the route runs maxRefreshes already
// or has no instance free, none starts and the entry stays stale, for a
// later hit to try again.
// refill runs rt's handler for a background refresh of path, and returns
// its answer, or nil (logged) if it may not be stored: the stale one stays.
func (s *Server) refill(rt *route, path string, req *http.Request, params []routes.Param) *capture {
	a := newCapture(&discard{h: http.Header{}}, s.responses.maxEntry, false)
	s.serve(a, req, rt, methodGET, params)
	a.complete = true
	if !a.cacheable() {
		s.log.Warn("cache refresh not stored: the answer is not cacheable; the stale one stays", "route", rt.Pattern, "path", path, "status", a.status)
		return nil
	}
	return a
}

func (s *Server) refresh(rt *route, path string, r *http.Request, params []routes.Param, e *entry) {
	c := s.responses
	c.mu.Lock()
	gen := c.gen
	start := !c.closed && c.running[rt.pool] < maxRefreshes(rt) && instanceFree(rt.pool)
	if start {
		c.running[rt.pool]++
		c.bg.Add(1) // under mu: close's Wait never races it
	}
	c.mu.Unlock()
	if !start {
		c.refreshed(e, nil)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, rt.limits.MaxWait+rt.limits.MaxDuration)
	req := refreshRequest(ctx, r)
	params = slices.Clone(params)
	go func() {
		defer c.bg.Done()
		defer cancel()
		defer c.refreshed(e, rt.pool)
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				s.log.Error("cache refresh failed", "route", rt.Pattern, "path", path, "err", v)
			}
		}()
		if a := s.refill(rt, path, req, params); a != nil {
			c.store(rt, path, hostQuery(req), req, a, gen, time.Now())
		}
	}()
}

// refreshRequest is a background refresh's request for r: its method GET,
// URL, Host and the headers a handler sees (seen), with ctx.
func refreshRequest(ctx context.Context, r *http.Request) *http.Request {
	req := &http.Request{
		Method: http.MethodGet, URL: &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: seenHeader(r.Header), Body: http.NoBody,
		Host: r.Host, RequestURI: r.RequestURI,
	}
	return req.WithContext(ctx)
}
