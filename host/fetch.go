package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/outbound"
)

const (
	// fetchReadAhead bounds the response body bytes read ahead per handle:
	// past it, the transfer waits for the guest to read.
	fetchReadAhead = 64 << 10
	// maxPollHandles bounds fetch_poll's count.
	maxPollHandles = 1024
	// fetchChunk is the most a fetch reads from its response body at once.
	fetchChunk = 16 << 10
)

// Redirect modes, fetch_start's flags.
const (
	redirectFollow = 0
	redirectManual = 1
	redirectError  = 2
)

// fetches is the outbound HTTP of one request: its handles, the context its
// fetches share, and what wakes fetch_poll. An Exchange makes one on its
// first fetch_start and drops it in End; a fetch's goroutine keeps only
// its own, so none of them touches the next request's.
type fetches struct {
	sent int64           // request body bytes copied, against Outbound.MaxBody
	ctx  context.Context // every fetch's parent: the request's serviceContext
	wake chan struct{}   // buffered 1: some handle may have become ready
	max  int             // Outbound.MaxConcurrency

	mu      sync.Mutex
	handles []*fetch // handle h is handles[h-1]; nil once closed
	running int      // fetches holding a slot
	queue   []*fetch // fetches waiting for a slot, in order
	ended   bool     // End was called: start nothing more
}

// fetch is one handle's request and what has arrived of its response.
type fetch struct {
	st      *fetches
	url     string // Redacted, for messages
	client  *http.Client
	req     *http.Request
	cancel  context.CancelFunc
	maxBody int64         // Outbound.MaxBody
	denied  func(string)  // Outbound.Denied
	room    chan struct{} // buffered 1: the guest read some of buf

	// Guarded by st.mu.
	slot      bool   // holds a concurrency slot
	closed    bool   // fetch_close or End: its goroutine stops
	head      []byte // the encoded head, once it arrived
	headTaken bool   // fetch_head wrote it, or fetch_body_read was called
	failCode  int32  // the fetch failed before its head: abi.ErrDenied or abi.ErrFailed ...
	failMsg   string // ... and why
	buf       []byte // body bytes read ahead: buf[off:]
	off       int
	bodyDone  bool   // no more body bytes will come ...
	bodyCode  int32  // ... because of this: 0 at the end, abi.ErrTooLarge, abi.ErrFailed
	bodyMsg   string // why, when bodyCode is not 0
}

// ready reports whether fetch_head, before the head was taken, or
// fetch_body_read after, would not return abi.ErrPending. st.mu is held.
func (f *fetch) ready() bool {
	if !f.headTaken {
		return f.head != nil || f.failCode != 0
	}
	return f.off < len(f.buf) || f.bodyDone
}

// End ends the request's outbound fetches: it cancels those running, drops
// those waiting for a slot and frees every handle, so that the next request
// starts with none and a count of zero. It does not wait for the fetches'
// goroutines, which end as soon as they see their context cancelled. A
// runtime calls it after every method call, whatever its outcome; Reset
// calls it too. Like the rest of the Exchange, it is not safe for use
// concurrent with the guest's call.
func (e *Exchange) End() {
	if st := e.fetches; st != nil {
		e.fetches = nil
		st.mu.Lock()
		st.ended = true
		for _, f := range st.handles {
			if f != nil {
				f.closed = true
			}
		}
		st.handles, st.queue = nil, nil
		st.mu.Unlock()
	}
	if e.svcCancel != nil {
		e.svcCancel()
		e.svcCtx, e.svcCancel = nil, nil
	}
}

// fetchState returns the request's fetches, made on the first call, under
// the request's serviceContext.
func (e *Exchange) fetchState(ctx context.Context) *fetches {
	if e.fetches == nil {
		e.fetches = &fetches{ctx: e.serviceContext(ctx), wake: make(chan struct{}, 1), max: e.Outbound.MaxConcurrency}
	}
	return e.fetches
}

// notify wakes fetch_poll, now or at its next wait.
func (st *fetches) notify() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// release gives f's slot, if it holds one, to the first fetch in line.
// st.mu is held.
func (st *fetches) release(f *fetch) {
	if !f.slot {
		return
	}
	f.slot = false
	st.running--
	for !st.ended && len(st.queue) > 0 && (st.max <= 0 || st.running < st.max) {
		next := st.queue[0]
		st.queue = st.queue[1:]
		next.slot = true
		st.running++
		go next.run()
	}
}

// handle returns the open fetch of handle h, or nil.
func (e *Exchange) handle(h uint32) *fetch {
	st := e.fetches
	if st == nil || h == 0 || uint64(h) > uint64(len(st.handles)) {
		return nil
	}
	return st.handles[h-1]
}

// failf records a message for error_message and returns code.
func (e *Exchange) failf(code int32, format string, args ...any) int32 {
	e.errMsg = fmt.Sprintf(format, args...)
	return code
}

// fetchStartFn supports abi.FuncFetchStart: it checks a request the guest
// describes in memory, and starts it (or puts it in line for a slot) in a
// goroutine of its own, returning its handle at once.
//
// # Parameters
//
//   - req, req_len: the request, a list: the method, the absolute http or
//     https URL, then header names and values alternately
//   - body, body_len: the whole request body, copied before the call
//     returns; may be empty
//   - flags: the redirect mode: 0 follow (up to 10 redirects, each checked
//     as the first request), 1 manual (a 3xx is the response), 2 error (a
//     redirect fails the fetch with abi.ErrFailed)
//
// Both ranges must lie inside memory, else the guest traps.
//
// Result (handle_or_err): the handle, > 0 and not used before in this
// request; or, with a message for error_message:
//
//   - abi.ErrInvalid for flags above 2, a malformed list, a method that is
//     not a token or is CONNECT, TRACE or TRACK (as the Fetch standard
//     forbids), a URL that is not absolute http or https with a host, has
//     userinfo or a port outside 1..65535, an odd number of header items,
//     or a header name or value abi.ValidHeaderName or ValidHeaderValue
//     refuses;
//   - abi.ErrDenied when Exchange.Outbound is nil or its Allow refuses the
//     URL: the message names the entry to add;
//   - abi.ErrLimit when the request already started Outbound.MaxFetches.
//
// The headers host, connection, content-length, transfer-encoding,
// keep-alive, upgrade, te, trailer and proxy-* are dropped: the URL alone
// says where the request goes, and the host frames the body. The fragment
// of the URL is not sent.
//
// For example, a GET of https://api.example.com/v1 with "accept: */*" is
// this list at req, with req_len=66:
//
//	 uint32le                 uint32le
//	+--------+               +---------+
//	|        |               |         |
//	3, 0, 0, 0, 'G', 'E', 'T', 26, 0, 0, 0, 'h', 't', 't', 'p', 's', ..., '1',
//	6, 0, 0, 0, 'a', ..., 't', 3, 0, 0, 0, '*', '/', '*'
//
// # Notes
//
//   - A fetch runs in the request's context (the inbound request's: its
//     client leaving cancels it) with Exchange.Deadline as deadline.
//   - Fetches past Outbound.MaxConcurrency wait in line, first in first
//     out, for a running one to end (its body read, or its handle closed);
//     their handles are not ready until then.
//   - Outbound.Client checks the addresses it dials and each redirect; its
//     refusals (*outbound.DeniedError) are the handle's abi.ErrDenied.
func fetchStartFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncFetchStart)
	req := e.view(mod, abi.FuncFetchStart, "req", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	body := e.view(mod, abi.FuncFetchStart, "body", api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	stack[0] = api.EncodeI32(e.fetchStart(ctx, req, body, api.DecodeU32(stack[4])))
}

func (e *Exchange) fetchStart(ctx context.Context, list, body []byte, flags uint32) int32 {
	if flags > redirectError {
		return e.failf(abi.ErrInvalid, "fetch_start: flags %d: want 0 (follow redirects), 1 (manual) or 2 (error)", flags)
	}
	if len(list) > maxFetchHead {
		return e.failf(abi.ErrTooLarge, "fetch_start: the request's method, URL and headers take %d bytes, over %d", len(list), maxFetchHead)
	}
	method, u, header, err := parseFetch(list)
	if err != nil {
		e.errMsg = "fetch_start: " + err.Error()
		return abi.ErrInvalid
	}
	o := e.Outbound
	if o == nil || o.Client == nil || o.Allow == nil {
		return e.failf(abi.ErrDenied, "fetch %s: denied: this route has no allowedOutboundHosts", outbound.Redacted(u))
	}
	if err := o.Allow(u); err != nil {
		if o.Denied != nil {
			o.Denied(err.Error())
		}
		return e.fail(abi.ErrDenied, err)
	}
	st := e.fetchState(ctx)
	if n := len(st.handles); o.MaxFetches > 0 && n >= o.MaxFetches || n >= math.MaxInt32 {
		return e.failf(abi.ErrLimit, "fetch %s: this request reached its maxFetches (%d): no more fetches", outbound.Redacted(u), o.MaxFetches)
	}
	// The host copies each body out of guest memory and keeps it until the
	// request is sent: all of a request's bodies together are bounded, or
	// maxFetches copies of a body the size of the guest's memory would be.
	if o.MaxBody > 0 && int64(len(body)) > o.MaxBody-st.sent {
		return e.failf(abi.ErrTooLarge, "fetch %s: a request body of %d bytes would take this request's outbound bodies past its maxFetchBody (%d bytes, %d sent)", outbound.Redacted(u), len(body), o.MaxBody, st.sent)
	}
	st.sent += int64(len(body))

	fctx, cancel := context.WithCancel(st.ctx)
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(bytes.Clone(body)) // guest memory moves; NewRequest sets GetBody for 307 and 308
	}
	req, err := http.NewRequestWithContext(fctx, method, u.String(), rd)
	if err != nil {
		cancel()
		return e.failf(abi.ErrInvalid, "fetch_start: %v", err)
	}
	req.Header = header
	e.propagateTrace(header) // trace.go
	client := o.Client
	if flags != redirectFollow {
		c := *o.Client
		c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if flags == redirectManual {
				return http.ErrUseLastResponse
			}
			return fmt.Errorf("redirected (%d) while the redirect mode is error", req.Response.StatusCode)
		}
		client = &c
	}
	f := &fetch{
		st: st, url: outbound.Redacted(u), client: client, req: req, cancel: cancel,
		maxBody: o.MaxBody, denied: o.Denied, room: make(chan struct{}, 1),
	}

	st.mu.Lock()
	defer st.mu.Unlock()
	st.handles = append(st.handles, f)
	if st.max <= 0 || st.running < st.max {
		f.slot = true
		st.running++
		go f.run()
	} else {
		st.queue = append(st.queue, f)
	}
	return int32(len(st.handles))
}

// maxFetchHead bounds fetch_start's request list (method, URL, headers),
// as MaxResponseHeaderBytes bounds a response's head.
const maxFetchHead = outbound.MaxResponseHeaderBytes

// parseFetch reads fetch_start's request list.
func parseFetch(list []byte) (method string, u *url.URL, header http.Header, err error) {
	m, rest, ok := abi.NextItem(list)
	if !ok {
		return "", nil, nil, errors.New("the request list is empty or malformed: want method, URL, then header names and values")
	}
	raw, rest, ok := abi.NextItem(rest)
	switch {
	case !abi.ValidHeaderName(m):
		return "", nil, nil, fmt.Errorf("method %q is not a token", m)
	case equalFold(m, "CONNECT") || equalFold(m, "TRACE") || equalFold(m, "TRACK"):
		return "", nil, nil, fmt.Errorf("method %s is not allowed", m)
	case !ok:
		return "", nil, nil, errors.New("the request list has no URL after the method, or is malformed")
	}
	u, err = url.Parse(string(raw))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a secret
		}
		return "", nil, nil, fmt.Errorf("the URL is not valid: %v", err)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme != "http" && scheme != "https":
		return "", nil, nil, errors.New("the URL is not absolute http or https")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", nil, nil, errors.New("the URL has no host")
	case u.User != nil:
		return "", nil, nil, errors.New("the URL has userinfo: send an authorization header instead")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", nil, nil, fmt.Errorf("the URL's port %q is not 1 to 65535", p)
		}
	}
	u.Fragment, u.RawFragment = "", ""

	header = make(http.Header)
	for len(rest) > 0 {
		name, r, ok := abi.NextItem(rest)
		if ok && len(r) == 0 {
			return "", nil, nil, fmt.Errorf("header %q has no value: want names and values alternately", name)
		}
		value, r, ok2 := abi.NextItem(r)
		switch {
		case !ok || !ok2:
			return "", nil, nil, errors.New("the request list is malformed after the URL")
		case !abi.ValidHeaderName(name):
			return "", nil, nil, fmt.Errorf("header name %q is not a token", name)
		case !abi.ValidHeaderValue(value):
			return "", nil, nil, fmt.Errorf("the value of header %s has a control character", name)
		}
		rest = r
		key := http.CanonicalHeaderKey(string(name))
		if droppedHeader(key) {
			continue
		}
		header[key] = append(header[key], string(value))
	}
	return string(m), u, header, nil
}

// droppedHeader reports whether fetch_start drops the header of canonical
// name key: the URL says where a request goes, and the host frames it.
func droppedHeader(key string) bool {
	switch key {
	case "Host", "Connection", "Content-Length", "Transfer-Encoding", "Keep-Alive", "Upgrade", "Te", "Trailer":
		return true
	}
	return strings.HasPrefix(key, "Proxy-")
}

// run sends f's request, then reads its body ahead until the end, an
// error, MaxBody, or f closed. It is f's goroutine, holding a slot.
func (f *fetch) run() {
	defer f.cancel()
	resp, err := f.client.Do(f.req)
	if err != nil {
		code, msg := f.failure(err)
		f.st.mu.Lock()
		f.failCode, f.failMsg = code, msg
		f.st.release(f)
		f.st.mu.Unlock()
		f.st.notify()
		return
	}
	defer resp.Body.Close()
	head := appendHead(nil, resp)
	f.st.mu.Lock()
	f.head = head
	f.st.mu.Unlock()
	f.st.notify()

	code, msg := f.readBody(resp.Body)
	f.st.mu.Lock()
	f.bodyDone, f.bodyCode, f.bodyMsg = true, code, msg
	f.st.release(f)
	f.st.mu.Unlock()
	f.st.notify()
}

var chunks = sync.Pool{New: func() any { return new([fetchChunk]byte) }}

// readBody reads body into f.buf, keeping at most fetchReadAhead bytes
// there, and returns how it ended: 0 at the end of the body, or an abi
// error and its message.
func (f *fetch) readBody(body io.Reader) (int32, string) {
	chunk := chunks.Get().(*[fetchChunk]byte)
	defer chunks.Put(chunk)
	ctx := f.req.Context()
	var total int64
	for {
		f.st.mu.Lock()
		room, closed := fetchReadAhead-(len(f.buf)-f.off), f.closed
		f.st.mu.Unlock()
		if closed {
			return abi.ErrFailed, "fetch " + f.url + ": closed"
		}
		if room == 0 {
			select {
			case <-f.room:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				return f.failure(ctx.Err())
			}
			continue
		}
		want := min(room, fetchChunk)
		if f.maxBody > 0 {
			want = int(min(int64(want), f.maxBody-total+1)) // one byte past MaxBody tells it is too large
		}
		n, err := body.Read(chunk[:want])
		total += int64(n)
		tooLarge := f.maxBody > 0 && total > f.maxBody
		if tooLarge {
			n -= int(total - f.maxBody)
		}
		if n > 0 {
			f.st.mu.Lock()
			if f.off > 0 && cap(f.buf)-len(f.buf) < n {
				f.buf = f.buf[:copy(f.buf, f.buf[f.off:])]
				f.off = 0
			}
			f.buf = append(f.buf, chunk[:n]...)
			f.st.mu.Unlock()
			f.st.notify()
		}
		switch {
		case tooLarge:
			return abi.ErrTooLarge, fmt.Sprintf("fetch %s: the response body is over maxFetchBody (%d bytes)", f.url, f.maxBody)
		case errors.Is(err, io.EOF):
			return 0, ""
		case err != nil:
			code, msg := f.failure(err)
			if code == abi.ErrFailed && ctx.Err() == nil {
				msg = "fetch " + f.url + ": reading the body: " + strings.TrimPrefix(msg, "fetch "+f.url+": ")
			}
			return code, msg
		}
	}
}

// failure maps an error of f's request to an abi error and its message:
// refusals of the policy to abi.ErrDenied, anything else to
// abi.ErrFailed. No message shows a URL's userinfo or query.
func (f *fetch) failure(err error) (int32, string) {
	prefix := "fetch " + f.url + ": "
	var denied *outbound.DeniedError
	if errors.As(err, &denied) {
		msg := denied.Error()
		switch {
		case denied.URL == f.url:
		case denied.URL != "": // a redirect's
			msg = prefix + "redirected to " + denied.URL + ": " + strings.TrimPrefix(msg, "fetch "+denied.URL+": ")
		default: // at dial time
			msg = prefix + msg
		}
		if f.denied != nil {
			f.denied(msg)
		}
		return abi.ErrDenied, msg
	}
	ctx := f.req.Context()
	switch {
	case errors.Is(context.Cause(ctx), errMaxDuration):
		return abi.ErrFailed, prefix + errMaxDuration.Error()
	case f.st.ctx.Err() != nil:
		return abi.ErrFailed, prefix + "cancelled: the request ended (its client left)"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // ue.URL may hold a query
	}
	return abi.ErrFailed, prefix + err.Error()
}

// appendHead appends the head of resp as fetch_head writes it: the status,
// the final URL, then header names (lowercase) and values. net/http keeps
// no order between names: they come sorted, each name's values in the order
// received.
func appendHead(list []byte, resp *http.Response) []byte {
	list = abi.AppendItem(list, strconv.Itoa(resp.StatusCode))
	final := *resp.Request.URL
	final.User = nil
	list = abi.AppendItem(list, final.String())
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		lk := strings.ToLower(k)
		for _, v := range resp.Header[k] {
			list = abi.AppendItem(abi.AppendItem(list, lk), v)
		}
	}
	return list
}

// fetchPollFn supports abi.FuncFetchPoll: it blocks the guest until one of
// the handles listed in memory is ready, the timeout passes, or the
// request must stop.
//
// # Parameters
//
//   - handles: offset of count handles, each a u32 little-endian; (handles,
//     4×count) must lie inside memory, else the guest traps
//   - count: how many, at most 1024 (checked before anything else)
//   - timeout_ms: the longest wait in milliseconds, a signed i32: 0 does not
//     wait, a negative value (-1) waits without limit
//
// Result (index_or_err): the index in handles of the first ready one: its
// fetch_head (before the head was taken) or fetch_body_read (after) would
// not return abi.ErrPending; abi.ErrPending when the timeout passed first;
// abi.ErrInvalid for a count above 1024, a handle that is not open in this
// request, or count 0 without a timeout. count 0 with a timeout sleeps.
//
// For example, with handles=16 holding handles 3 and 1, count=2 and
// timeout_ms=-1, this returns 1 once handle 1's head arrived, if handle 3
// has nothing yet:
//
//	          handles[0] = 3   handles[1] = 1
//	          +----------+   +----------+
//	          |          |   |          |
//	[]byte{?, 3, 0, 0, 0,    1, 0, 0, 0, ?}
//	handles --^
//
// # Cancellation
//
// As poll_oneoff's sleep (see InstantiateWASI), the wait ends when
// Exchange.Done or the call's context is closed: fetch_poll then does not
// return, it ends the guest's call with a *sys.ExitError.
func fetchPollFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncFetchPoll)
	ptr, count, timeout := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeI32(stack[2])
	if count > maxPollHandles {
		stack[0] = api.EncodeI32(e.failf(abi.ErrInvalid, "fetch_poll: count %d is over %d", count, maxPollHandles))
		return
	}
	handles := e.view(mod, abi.FuncFetchPoll, "handles", ptr, 4*count)
	stack[0] = api.EncodeI32(e.fetchPoll(ctx, mod, handles, timeout))
}

func (e *Exchange) fetchPoll(ctx context.Context, mod api.Module, handles []byte, timeout int32) int32 {
	if len(handles) == 0 && timeout < 0 {
		return e.failf(abi.ErrInvalid, "fetch_poll: no handle and no timeout would wait forever")
	}
	for i := 0; i < len(handles); i += 4 {
		if h := binary.LittleEndian.Uint32(handles[i:]); e.handle(h) == nil {
			return e.failf(abi.ErrInvalid, "fetch_poll: handle %d (index %d) is not open", h, i/4)
		}
	}
	var wake <-chan struct{}
	st := e.fetches
	if st != nil {
		wake = st.wake
	}
	var expired <-chan time.Time
	for {
		if st != nil {
			st.mu.Lock()
			for i := 0; i < len(handles); i += 4 {
				if e.handle(binary.LittleEndian.Uint32(handles[i:])).ready() {
					st.mu.Unlock()
					return int32(i / 4)
				}
			}
			st.mu.Unlock()
		}
		if timeout == 0 {
			return abi.ErrPending
		}
		if expired == nil && timeout > 0 {
			d := time.Duration(timeout) * time.Millisecond
			if e.timer == nil {
				e.timer = time.NewTimer(d)
			} else {
				e.timer.Reset(d)
			}
			defer e.timer.Stop()
			expired = e.timer.C
		}
		select {
		case <-wake:
		case <-expired:
			return abi.ErrPending
		case <-e.Done:
			exitStopped(ctx)
		case <-ctx.Done():
			exitStopped(ctx)
		}
		if mod.IsClosed() {
			exitStopped(ctx)
		}
	}
}

// fetchHeadFn supports abi.FuncFetchHead: it writes the response head of a
// handle to (buf, buf_len), as a getter, and returns its length.
//
// # Parameters
//
//   - handle: a handle fetch_start returned and fetch_close did not close
//   - buf, buf_len: the buffer, as for methodFn; it must lie inside memory
//     (checked before the handle), else the guest traps
//
// Result (len_or_err): the length of the head, a list: the status as
// decimal text, the final URL (after redirects, without userinfo), then
// header names (lowercase) and values alternately, names sorted (net/http
// keeps no order between them), each name's values in the order received.
// It is written only when it fits, and then counts as taken (fetch_poll
// then waits for body bytes). abi.ErrPending before the head arrived; the
// fetch's error when it failed first: abi.ErrDenied (the address dialled
// or a redirect refused) or abi.ErrFailed, with error_message; abi.ErrInvalid
// for a handle that is not open.
//
// For example, a 200 from https://example.com/ with "content-type:
// text/plain" and buf_len=64 writes these 56 bytes:
//
//	3, 0, 0, 0, '2', '0', '0', 20, 0, 0, 0, 'h', 't', ..., '/',
//	12, 0, 0, 0, 'c', ..., 'e', 10, 0, 0, 0, 't', ..., 'n'
func fetchHeadFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncFetchHead)
	buf := e.view(mod, abi.FuncFetchHead, "buf", api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	stack[0] = api.EncodeI32(e.fetchHead(api.DecodeU32(stack[0]), buf))
}

func (e *Exchange) fetchHead(h uint32, buf []byte) int32 {
	f := e.handle(h)
	if f == nil {
		return e.failf(abi.ErrInvalid, "fetch_head: handle %d is not open", h)
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	switch {
	case f.head != nil:
		if len(f.head) <= len(buf) {
			copy(buf, f.head)
			f.headTaken = true
		}
		return int32(min(len(f.head), math.MaxInt32))
	case f.failCode != 0:
		e.errMsg = f.failMsg
		return f.failCode
	}
	return abi.ErrPending
}

// fetchBodyReadFn supports abi.FuncFetchBodyRead: it moves the next
// response body bytes the host read ahead for a handle into (buf, buf_len).
//
// # Parameters
//
//   - handle: a handle fetch_start returned and fetch_close did not close
//   - buf, buf_len: where to read to; it must lie inside memory (checked
//     before the handle), else the guest traps
//
// Result (n_or_err): the number of bytes written, 1 to buf_len (at most
// 2^31-1); 0 at the end of the body or when buf_len is 0; abi.ErrPending
// when no byte is there yet; abi.ErrTooLarge once the body went past
// Outbound.MaxBody (the bytes before it were read first; the transfer is
// cancelled); abi.ErrFailed when the transfer failed, e.g. the request's
// time ran out; abi.ErrInvalid for a handle that is not open or whose head
// has not arrived; the fetch's own error (abi.ErrDenied, abi.ErrFailed)
// when it failed before its head. Errors set error_message. Reading
// counts as taking the head, for fetch_poll; each read makes room for the
// host to read further ahead.
func fetchBodyReadFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncFetchBodyRead)
	buf := e.view(mod, abi.FuncFetchBodyRead, "buf", api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	stack[0] = api.EncodeI32(e.fetchBodyRead(api.DecodeU32(stack[0]), buf))
}

func (e *Exchange) fetchBodyRead(h uint32, buf []byte) int32 {
	f := e.handle(h)
	if f == nil {
		return e.failf(abi.ErrInvalid, "fetch_body_read: handle %d is not open", h)
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	switch {
	case f.head == nil && f.failCode != 0:
		e.errMsg = f.failMsg
		return f.failCode
	case f.head == nil:
		return e.failf(abi.ErrInvalid, "fetch_body_read: handle %d has no head yet: wait for it with fetch_poll", h)
	}
	f.headTaken = true
	if len(buf) > math.MaxInt32 {
		buf = buf[:math.MaxInt32]
	}
	if len(buf) == 0 {
		return 0
	}
	if n := copy(buf, f.buf[f.off:]); n > 0 {
		f.off += n
		if f.off == len(f.buf) {
			f.buf, f.off = f.buf[:0], 0
		}
		select {
		case f.room <- struct{}{}:
		default:
		}
		return int32(n)
	}
	switch {
	case !f.bodyDone:
		return abi.ErrPending
	case f.bodyCode != 0:
		e.errMsg = f.bodyMsg
	}
	return f.bodyCode
}

// fetchCloseFn supports abi.FuncFetchClose: it ends a handle's fetch,
// cancelling it if it runs (its slot goes to the next fetch in line) or
// taking it out of line, and frees the handle; its number is not given
// again in this request.
//
// # Parameters
//
//   - handle: a handle fetch_start returned
//
// Result (err): abi.OK; abi.ErrInvalid for a handle that is not open.
func fetchCloseFn(ctx context.Context, _ api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncFetchClose)
	stack[0] = api.EncodeI32(e.fetchClose(api.DecodeU32(stack[0])))
}

func (e *Exchange) fetchClose(h uint32) int32 {
	f := e.handle(h)
	if f == nil {
		return e.failf(abi.ErrInvalid, "fetch_close: handle %d is not open", h)
	}
	st := f.st
	st.mu.Lock()
	f.closed = true
	st.handles[h-1] = nil
	if i := slices.Index(st.queue, f); i >= 0 {
		st.queue = slices.Delete(st.queue, i, i+1)
	}
	st.release(f)
	st.mu.Unlock()
	f.cancel()
	return abi.OK
}
