package standin

// The service functions: error_message, outbound HTTP (fetch_*) and the
// key-value store (kv_*), as ABI.md specifies them. Fetches run on their own
// goroutines, one per handle, reading the response body ahead into a buffer
// the guest drains with fetch_body_read; everything else runs on the
// guest's goroutine.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wasmroute/wasmroute/abi"
)

// Namespace is the key-value store behind the kv_* functions, as
// internal/kv.Namespace is the host's; package routetest's KV implements
// it. Keys reach it checked (1..512 bytes of UTF-8). Its errors wrap
// ErrNotFound, ErrTooLarge, ErrLimit or ErrNotInteger; any other error is
// abi.ErrFailed. An error's text is what error_message gives the guest.
type Namespace interface {
	Get(key string) ([]byte, error)
	Set(key string, value []byte, ttl time.Duration) error
	Delete(key string) error
	List(prefix string) ([]string, error)
	Incr(key string, by int64) (int64, error)
}

// Errors a Namespace or an Exchange's Fetch function returns, wrapped with a
// message naming the key, limit or URL.
var (
	ErrNotFound   = errors.New("no such key")
	ErrTooLarge   = errors.New("value too large")
	ErrLimit      = errors.New("too many keys")
	ErrNotInteger = errors.New("not an integer")
	ErrDenied     = errors.New("denied")
)

const (
	maxKey       = 512       // bytes in a key (ABI.md)
	maxPoll      = 1024      // handles in one fetch_poll
	maxRedirects = 10        // hops followed in mode 0
	readAhead    = 64 << 10  // body bytes kept per handle
	readChunk    = 16 << 10  // bytes asked of the upstream body at a time
	maxN         = 1<<31 - 1 // the largest count an i32 result holds
)

// services is an Exchange's state for the service functions.
type services struct {
	// Used on the guest's goroutine only.
	errMsg string   // error_message
	kept   struct { // the value of the last kv_get or kv_list that did not fit
		op, key string
		val     []byte
	}

	mu      sync.Mutex // guards what follows, shared with the fetch goroutines
	fetches map[uint32]*fetch
	started int           // fetch_start calls that returned a handle
	wake    chan struct{} // closed and replaced whenever a fetch changes
}

// fetch is one handle's request. Fields below url are guarded by
// services.mu.
type fetch struct {
	url    string // as the guest gave it, for messages
	cancel context.CancelFunc

	head     bool  // the head, or the failure, arrived
	failCode int32 // the fetch failed before its head: its code and message
	failMsg  string
	status   int
	finalURL string
	header   []Field
	taken    bool   // fetch_head gave the head to the guest
	buf      []byte // body read ahead, at most readAhead bytes
	eof      bool
	bodyCode int32 // the body failed after its head: its code and message
	bodyMsg  string
	closed   bool
}

// ready reports whether the call the guest would make next on f would not
// return ErrPending.
func (f *fetch) ready() bool {
	switch {
	case !f.head:
		return false
	case !f.taken || f.failCode != 0:
		return true
	}
	return len(f.buf) > 0 || f.eof || f.bodyCode != 0
}

// notify wakes every fetch_poll and body pump waiting for a change. The
// caller holds s.mu.
func (s *services) notify() {
	if s.wake != nil {
		close(s.wake)
	}
	s.wake = make(chan struct{})
}

// waitCh returns the channel the next notify closes. The caller holds s.mu.
func (s *services) waitCh() chan struct{} {
	if s.wake == nil {
		s.wake = make(chan struct{})
	}
	return s.wake
}

// record appends call and its result to the trace and returns the result.
func (x *Exchange) record(call string, result int32) int32 {
	entry := call + " -> " + resultString(result)
	x.Trace = append(x.Trace, entry)
	if x.OnCall != nil {
		x.OnCall(entry)
	}
	return result
}

func resultString(r int32) string {
	switch r {
	case abi.ErrInvalid:
		return "ErrInvalid"
	case abi.ErrTooLarge:
		return "ErrTooLarge"
	case abi.ErrDenied:
		return "ErrDenied"
	case abi.ErrLimit:
		return "ErrLimit"
	case abi.ErrPending:
		return "ErrPending"
	case abi.ErrFailed:
		return "ErrFailed"
	case abi.ErrNotFound:
		return "ErrNotFound"
	}
	return strconv.Itoa(int(r))
}

// fail records msg for error_message and returns code.
func (x *Exchange) fail(code int32, msg string) int32 {
	x.svc.errMsg = msg
	return code
}

// ErrorMessage implements abi.FuncErrorMessage.
func ErrorMessage(buf []byte) uint32 {
	return get(buf, field(func(x *Exchange) string { return x.svc.errMsg }))
}

// hopHeaders are the request headers the host drops (ABI.md, Policy).
var hopHeaders = []string{"host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer"}

// FetchStart implements abi.FuncFetchStart.
func FetchStart(req, body []byte, flags int32) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrDenied
	}
	items, ok := splitList(req)
	if !ok || len(items) < 2 || len(items)%2 != 0 {
		return x.record("fetch_start", x.fail(abi.ErrInvalid, "fetch: malformed request list"))
	}
	method, rawURL := items[0], items[1]
	call := "fetch_start " + method + " " + rawURL
	if !abi.ValidHeaderName(method) {
		return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("fetch %s: invalid method %q", rawURL, method)))
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("fetch %q: not an absolute http or https URL", rawURL)))
	}
	var header []Field
	for i := 2; i < len(items); i += 2 {
		name, value := items[i], items[i+1]
		if !abi.ValidHeaderName(name) || !abi.ValidHeaderValue(value) {
			return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("fetch %s: invalid header %q: %q", rawURL, name, value)))
		}
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "proxy-") && !slices.Contains(hopHeaders, lower) {
			header = append(header, Field{name, value})
		}
	}
	if flags < 0 || flags > 2 {
		return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("fetch %s: unknown flags %d", rawURL, flags)))
	}
	if x.Fetch == nil {
		return x.record(call, x.fail(abi.ErrDenied, fmt.Sprintf(
			"fetch %s: denied: add %q to allowedOutboundHosts (in a test: set routetest.Request.Fetch)",
			rawURL, u.Scheme+"://"+u.Host)))
	}
	s := &x.svc
	s.mu.Lock()
	if x.MaxFetches > 0 && s.started >= x.MaxFetches {
		s.mu.Unlock()
		return x.record(call, x.fail(abi.ErrLimit, fmt.Sprintf(
			"fetch %s: limit: this request made its %d fetches (maxFetches)", rawURL, x.MaxFetches)))
	}
	s.started++
	if s.fetches == nil {
		s.fetches = make(map[uint32]*fetch)
	}
	handle := uint32(s.started)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetch{url: rawURL, cancel: cancel}
	s.fetches[handle] = f
	s.mu.Unlock()
	go x.run(ctx, f, method, u, header, bytes.Clone(body), flags)
	return x.record(call, int32(handle))
}

// splitList decodes an ABI list; ok is false when it is malformed.
func splitList(list []byte) (items []string, ok bool) {
	for len(list) > 0 {
		item, rest, ok := abi.NextItem(list)
		if !ok {
			return nil, false
		}
		items = append(items, string(item))
		list = rest
	}
	return items, true
}

// run performs f's request and then reads its body ahead, on f's own
// goroutine.
func (x *Exchange) run(ctx context.Context, f *fetch, method string, u *url.URL, header []Field, body []byte, mode int32) {
	resp, final, code, msg := x.roundTrips(ctx, f.url, method, u, header, body, mode)
	s := &x.svc
	s.mu.Lock()
	f.head = true
	if code != abi.OK {
		f.failCode, f.failMsg = code, msg
		s.notify()
		s.mu.Unlock()
		return
	}
	f.status, f.finalURL = resp.StatusCode, final
	for _, name := range slices.Sorted(maps.Keys(resp.Header)) { // repeatable runs
		for _, v := range resp.Header[name] {
			f.header = append(f.header, Field{strings.ToLower(name), v})
		}
	}
	s.notify()
	s.mu.Unlock()
	x.pump(f, resp.Body)
}

// roundTrips calls x.Fetch for each hop, following redirects as mode says.
func (x *Exchange) roundTrips(ctx context.Context, rawURL, method string, u *url.URL, header []Field, body []byte, mode int32) (*http.Response, string, int32, string) {
	for hops := 0; ; hops++ {
		var r io.Reader
		if len(body) > 0 {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
		if err != nil {
			return nil, "", abi.ErrFailed, fmt.Sprintf("fetch %s: %v", rawURL, err)
		}
		for _, h := range header {
			req.Header.Add(h.Name, h.Value)
		}
		resp, err := x.Fetch(req)
		switch {
		case errors.Is(err, ErrDenied):
			return nil, "", abi.ErrDenied, fmt.Sprintf("fetch %s: %v", rawURL, err)
		case err != nil:
			return nil, "", abi.ErrFailed, fmt.Sprintf("fetch %s: %v", rawURL, err)
		}
		if resp.Body == nil {
			resp.Body = http.NoBody
		}
		loc := resp.Header.Get("Location")
		switch resp.StatusCode {
		case 301, 302, 303, 307, 308:
		default:
			return resp, u.String(), abi.OK, ""
		}
		if mode == 1 || loc == "" {
			return resp, u.String(), abi.OK, ""
		}
		resp.Body.Close()
		if mode == 2 {
			return nil, "", abi.ErrFailed, fmt.Sprintf("fetch %s: redirected to %s, and the redirect mode is error", rawURL, loc)
		}
		if hops == maxRedirects {
			return nil, "", abi.ErrFailed, fmt.Sprintf("fetch %s: stopped after %d redirects", rawURL, maxRedirects)
		}
		next, err := u.Parse(loc)
		if err != nil || next.Scheme != "http" && next.Scheme != "https" {
			return nil, "", abi.ErrFailed, fmt.Sprintf("fetch %s: redirected to %q, not an http or https URL", rawURL, loc)
		}
		if resp.StatusCode == 303 || (resp.StatusCode == 301 || resp.StatusCode == 302) && method == "POST" {
			method, body = "GET", nil
		}
		if next.Scheme != u.Scheme || next.Host != u.Host {
			var kept []Field
			for _, h := range header {
				switch strings.ToLower(h.Name) {
				case "authorization", "cookie", "proxy-authorization":
				default:
					kept = append(kept, h)
				}
			}
			header = kept
		}
		u = next
	}
}

// pump reads body ahead into f.buf, at most readAhead bytes, until the end,
// an error, MaxFetchBody or fetch_close.
func (x *Exchange) pump(f *fetch, body io.ReadCloser) {
	defer body.Close()
	s := &x.svc
	chunk := make([]byte, readChunk)
	var total int64
	for {
		s.mu.Lock()
		for len(f.buf) >= readAhead && !f.closed {
			ch := s.waitCh()
			s.mu.Unlock()
			<-ch
			s.mu.Lock()
		}
		room := min(readAhead-len(f.buf), len(chunk))
		closed := f.closed
		s.mu.Unlock()
		if closed {
			return
		}

		n, err := body.Read(chunk[:room])

		s.mu.Lock()
		if f.closed {
			s.mu.Unlock()
			return
		}
		total += int64(n)
		if x.MaxFetchBody > 0 && total > x.MaxFetchBody {
			n -= int(total - x.MaxFetchBody)
			err = fmt.Errorf("response body over maxFetchBody (%d bytes)", x.MaxFetchBody)
			f.bodyCode = abi.ErrTooLarge
		}
		f.buf = append(f.buf, chunk[:n]...)
		switch {
		case f.bodyCode != 0:
			f.bodyMsg = fmt.Sprintf("fetch %s: %v", f.url, err)
		case err == io.EOF:
			f.eof = true
		case err != nil:
			f.bodyCode, f.bodyMsg = abi.ErrFailed, fmt.Sprintf("fetch %s: reading the body: %v", f.url, err)
		}
		done := f.eof || f.bodyCode != 0
		s.notify()
		s.mu.Unlock()
		if done {
			return
		}
	}
}

// withFetch calls f with handle's open fetch and s.mu held, and returns its
// result, or fails with ErrInvalid for an unknown handle. The result is
// recorded after s.mu is released.
func (x *Exchange) withFetch(name string, handle int32, f func(*fetch) int32) int32 {
	call := name + " " + strconv.Itoa(int(handle))
	s := &x.svc
	s.mu.Lock()
	ft := s.fetches[uint32(handle)]
	if ft == nil {
		s.mu.Unlock()
		return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("%s: unknown handle %d", name, handle)))
	}
	r := f(ft)
	s.mu.Unlock()
	return x.record(call, r)
}

// FetchPoll implements abi.FuncFetchPoll: handles are the guest's u32s.
func FetchPoll(handles []uint32, timeoutMs int32) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrInvalid
	}
	call := fmt.Sprintf("fetch_poll %v %d", handles, timeoutMs)
	switch {
	case len(handles) > maxPoll:
		return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("fetch_poll: %d handles, over %d", len(handles), maxPoll)))
	case len(handles) == 0 && timeoutMs < 0:
		return x.record(call, x.fail(abi.ErrInvalid, "fetch_poll: no handles and no timeout"))
	}
	var timeout <-chan time.Time
	if timeoutMs >= 0 {
		t := time.NewTimer(time.Duration(timeoutMs) * time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	s := &x.svc
	s.mu.Lock()
	for {
		for i, h := range handles {
			f := s.fetches[h]
			if f == nil {
				s.mu.Unlock()
				return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("fetch_poll: unknown handle %d", h)))
			}
			if f.ready() {
				s.mu.Unlock()
				return x.record(call, int32(i))
			}
		}
		ch := s.waitCh()
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			return x.record(call, abi.ErrPending)
		}
		s.mu.Lock()
	}
}

// FetchHead implements abi.FuncFetchHead.
func FetchHead(handle int32, buf []byte) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrInvalid
	}
	return x.withFetch("fetch_head", handle, func(f *fetch) int32 {
		switch {
		case !f.head:
			return abi.ErrPending
		case f.failCode != 0:
			return x.fail(f.failCode, f.failMsg)
		}
		list := abi.AppendItem(nil, strconv.Itoa(f.status))
		list = abi.AppendItem(list, f.finalURL)
		for _, h := range f.header {
			list = abi.AppendItem(abi.AppendItem(list, h.Name), h.Value)
		}
		n := get(buf, string(list))
		if int(n) <= len(buf) {
			f.taken = true
		}
		return int32(n)
	})
}

// FetchBodyRead implements abi.FuncFetchBodyRead.
func FetchBodyRead(handle int32, buf []byte) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrInvalid
	}
	return x.withFetch("fetch_body_read", handle, func(f *fetch) int32 {
		switch {
		case !f.head:
			return x.fail(abi.ErrInvalid, fmt.Sprintf("fetch_body_read %s: the head has not arrived", f.url))
		case f.failCode != 0:
			return x.fail(f.failCode, f.failMsg)
		case len(buf) == 0:
			return 0
		case len(f.buf) > 0:
			n := copy(buf[:min(len(buf), maxN)], f.buf)
			f.buf = f.buf[n:]
			x.svc.notify() // the pump may wait for room
			return int32(n)
		case f.bodyCode != 0:
			return x.fail(f.bodyCode, f.bodyMsg)
		case f.eof:
			return 0
		}
		return abi.ErrPending
	})
}

// FetchClose implements abi.FuncFetchClose.
func FetchClose(handle int32) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrInvalid
	}
	return x.withFetch("fetch_close", handle, func(f *fetch) int32 {
		delete(x.svc.fetches, uint32(handle))
		f.closed = true
		f.cancel()
		x.svc.notify()
		return abi.OK
	})
}

// closeFetches closes every open handle, as the host does when the method
// returns.
func (x *Exchange) closeFetches() {
	s := &x.svc
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, f := range s.fetches {
		f.closed = true
		f.cancel()
		delete(s.fetches, h)
	}
	s.notify()
}

// badKey says why key is not acceptable, or "". A prefix may be empty.
func badKey(key string, prefix bool) string {
	switch {
	case key == "" && !prefix:
		return "empty"
	case len(key) > maxKey:
		return fmt.Sprintf("%d bytes, over %d", len(key), maxKey)
	case !utf8.ValidString(key):
		return "not UTF-8"
	}
	return ""
}

// kvCheck returns the namespace for op on key, or the code to fail with.
func (x *Exchange) kvCheck(op, key string, prefix bool) (Namespace, int32) {
	if why := badKey(key, prefix); why != "" {
		return nil, x.fail(abi.ErrInvalid, fmt.Sprintf("kv %s %q: invalid key: %s", op, key, why))
	}
	if x.KV == nil {
		return nil, x.fail(abi.ErrFailed, fmt.Sprintf("kv %s %q: no key-value store (in a test: set routetest.Request.KV)", op, key))
	}
	return x.KV, abi.OK
}

// kvFail maps a Namespace error to its code, recording its message.
func (x *Exchange) kvFail(err error) int32 {
	code := abi.ErrFailed
	switch {
	case errors.Is(err, ErrNotFound):
		code = abi.ErrNotFound
	case errors.Is(err, ErrTooLarge):
		code = abi.ErrTooLarge
	case errors.Is(err, ErrLimit):
		code = abi.ErrLimit
	case errors.Is(err, ErrNotInteger):
		code = abi.ErrInvalid
	}
	return x.fail(code, err.Error())
}

// kvGetter implements kv_get and kv_list: a getter whose value is kept for
// the second call when it did not fit.
func (x *Exchange) kvGetter(op, key string, buf []byte, read func() ([]byte, error)) int32 {
	s := &x.svc
	var v []byte
	if s.kept.op == op && s.kept.key == key && s.kept.val != nil {
		v = s.kept.val
	} else {
		var err error
		if v, err = read(); err != nil {
			return x.kvFail(err)
		}
	}
	n := get(buf, string(v))
	if int(n) <= len(buf) {
		s.kept.op, s.kept.key, s.kept.val = "", "", nil
	} else {
		s.kept.op, s.kept.key, s.kept.val = op, key, v
	}
	return int32(n)
}

// KVGet implements abi.FuncKVGet.
func KVGet(key string, buf []byte) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrFailed
	}
	call := "kv_get " + strconv.Quote(key)
	ns, code := x.kvCheck("get", key, false)
	if ns == nil {
		return x.record(call, code)
	}
	return x.record(call, x.kvGetter("get", key, buf, func() ([]byte, error) {
		v, err := ns.Get(key)
		if v == nil && err == nil {
			v = []byte{}
		}
		return v, err
	}))
}

// KVSet implements abi.FuncKVSet.
func KVSet(key string, value []byte, ttlSeconds int32) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrFailed
	}
	call := fmt.Sprintf("kv_set %q %d", key, ttlSeconds)
	ns, code := x.kvCheck("set", key, false)
	switch {
	case ns == nil:
		return x.record(call, code)
	case ttlSeconds < 0:
		return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("kv set %q: negative ttl %d", key, ttlSeconds)))
	}
	x.svc.kept.val = nil
	if err := ns.Set(key, bytes.Clone(value), time.Duration(ttlSeconds)*time.Second); err != nil {
		return x.record(call, x.kvFail(err))
	}
	return x.record(call, abi.OK)
}

// KVDelete implements abi.FuncKVDelete.
func KVDelete(key string) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrFailed
	}
	call := "kv_delete " + strconv.Quote(key)
	ns, code := x.kvCheck("delete", key, false)
	if ns == nil {
		return x.record(call, code)
	}
	x.svc.kept.val = nil
	if err := ns.Delete(key); err != nil {
		return x.record(call, x.kvFail(err))
	}
	return x.record(call, abi.OK)
}

// KVList implements abi.FuncKVList.
func KVList(prefix string, buf []byte) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrFailed
	}
	call := "kv_list " + strconv.Quote(prefix)
	ns, code := x.kvCheck("list", prefix, true)
	if ns == nil {
		return x.record(call, code)
	}
	return x.record(call, x.kvGetter("list", prefix, buf, func() ([]byte, error) {
		keys, err := ns.List(prefix)
		list := []byte{}
		for _, k := range keys {
			list = abi.AppendItem(list, k)
		}
		return list, err
	}))
}

// KVIncr implements abi.FuncKVIncr: inout is the guest's 8 bytes, a
// little-endian i64.
func KVIncr(key string, inout []byte) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrFailed
	}
	by := int64(binary.LittleEndian.Uint64(inout))
	call := fmt.Sprintf("kv_incr %q %d", key, by)
	ns, code := x.kvCheck("incr", key, false)
	if ns == nil {
		return x.record(call, code)
	}
	x.svc.kept.val = nil
	n, err := ns.Incr(key, by)
	if err != nil {
		return x.record(call, x.kvFail(err))
	}
	binary.LittleEndian.PutUint64(inout, uint64(n))
	return x.record(call, abi.OK)
}

// CacheRevalidate implements abi.FuncCacheRevalidate: it checks the path
// as the host does and records it in Exchange.Revalidated.
func CacheRevalidate(path string) int32 {
	x := current.Load()
	if x == nil {
		return abi.ErrFailed
	}
	call := "cache_revalidate " + strconv.Quote(path)
	if len(path) > 8<<10 || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") {
		return x.record(call, x.fail(abi.ErrInvalid, fmt.Sprintf("cache revalidate %q: want a path that starts with / and has no query", path)))
	}
	x.Revalidated = append(x.Revalidated, path)
	return x.record(call, abi.OK)
}
