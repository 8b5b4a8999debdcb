// Package host implements the host side of the wasmroute ABI (package abi)
// on wazero: one Go function per abi.Func* constant, registered under
// abi.ModuleName from one table in abi order.
//
// A runtime instantiates the host module once per wazero.Runtime, then, for
// each request, builds an Exchange, puts it in the context of the guest's
// method call and finishes the response when the guest returns:
//
//	if _, err := host.InstantiateWASI(ctx, rt); err != nil { // once per runtime
//		return err
//	}
//	if _, err := host.Instantiate(ctx, rt); err != nil { // once per runtime
//		return err
//	}
//	// Per request, get being a route module's "GET" export, looked up once:
//	e := host.NewExchange(w, req, params)
//	e.Body = http.MaxBytesReader(w, req.Body, maxBody)
//	e.Done = stop // closed when the request must stop: ends a guest's sleep
//	e.Deadline = limit // ends the guest's fetches
//	e.Outbound = out   // where it may fetch (package internal/outbound); nil: nowhere
//	_, err := get.Call(host.WithExchange(req.Context(), e))
//	e.End() // cancels the fetches the guest left running
//	if err != nil {
//		// The guest failed or trapped: answer 500 unless e.HeadSent().
//	}
//	err = e.Finish()
//
// # Notes
//
//   - Host functions are api.GoModuleFunc (stack based): no reflection and
//     no allocation on the hot paths.
//   - A guest that passes a (ptr, len) range outside its memory, or calls a
//     host function outside a request (e.g. from "_initialize"), traps: the
//     host function panics with a descriptive error, wazero recovers it and
//     the guest's call returns it. The host process never crashes.
//   - Everything else a guest can get wrong is an abi error code it can
//     handle.
//   - InstantiateWASI provides WASI (wasi_snapshot_preview1), whose functions
//     follow WASI's conventions instead: bad memory is an errno (EFAULT).
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/routes"
)

// Exchange is one request as its guest sees it and the response the guest
// builds: the state every host function reads and changes during one method
// call. Build one per request with NewExchange, or Reset one.
//
// An Exchange is not safe for concurrent use: a wazero instance runs one call
// at a time, and the runtime must not touch the ResponseWriter while the
// guest runs.
type Exchange struct {
	// Body is what body_read reads; the runtime sets it, typically to
	// http.MaxBytesReader around the request body. Nil reads as empty.
	Body io.Reader

	// MaxResponseBytes caps the response body: a body_write that would take
	// it past this many bytes writes nothing and returns abi.ErrTooLarge.
	// Zero means no limit.
	MaxResponseBytes int64

	// MaxHeaders caps the number of response header values, counted over
	// all names (a name with three values counts three) and including those
	// the ResponseWriter held before the guest ran: a header_set or
	// header_add that would leave more changes nothing and returns
	// abi.ErrTooLarge. header_del is never refused for it. Zero means no
	// limit.
	MaxHeaders int

	// MaxHeaderBytes caps the size of the response header, counted as the
	// sum of len(name)+len(value) over its values (so a name counts once per
	// value), as MaxHeaders counts: a header_set or header_add that would
	// take it past this many bytes changes nothing and returns
	// abi.ErrTooLarge. Zero means no limit.
	MaxHeaderBytes int

	// Done, when not nil, is closed when the request must stop: its time
	// limit passed (or its client left, for a caller that merges both in
	// one channel). The call's context ending stops it too. A stopped
	// guest's next host call — a host function, WASI poll_oneoff asleep or
	// not, sched_yield — does not return: the call returns a
	// *sys.ExitError, and the instance must be discarded as after any
	// failed call. A guest running compiled code without host calls is
	// stopped by its loops calling sched_yield (package runtime instruments
	// them) or by wazero closing its module. Nil means never.
	Done <-chan struct{}

	// Deadline, when not zero, ends the request's outbound and store calls
	// (they fail with abi.ErrFailed); the runtime sets it to the request's
	// time limit, before the call (the services read it once a request).
	// The call's context ending (the client leaving) ends them too.
	Deadline time.Time

	// Outbound is the route's outbound HTTP policy. Nil: every fetch_start
	// is abi.ErrDenied.
	Outbound *Outbound

	// KV is the project's key-value namespace. Nil: every kv_* call fails
	// with abi.ErrFailed ("no key-value store is configured").
	KV kv.Namespace

	// Revalidator is the project's response cache, which cache_revalidate
	// invalidates. Nil: cache_revalidate succeeds and does nothing.
	Revalidator Revalidator

	errMsg  string   // error_message: the last fetch_*, kv_* or cache_revalidate error
	fetches *fetches // the request's outbound fetches, from the first fetch_start to End

	w      http.ResponseWriter
	r      *http.Request
	params []routes.Param

	keys, values map[string]string // response header strings seen, see intern

	mod api.Module // the calling module, and its exported memory
	mem api.Memory

	status       int  // set by set_status; 0 sends 200
	headSent     bool // the status and headers are final: the body started
	headHeld     bool // ... but, for a HEAD request, not yet written (writeHead)
	bodyStarted  bool // body_read was called with a body to read
	bodyTooLarge bool
	bodyDone     bool  // the body reader returned an error ...
	bodyCode     int32 // ... which body_read now returns: 0 at EOF, or an abi error
	written      int64 // response body bytes written
	writeErr     error // the first error the ResponseWriter returned

	// The response header's size once counted (headerCounted), kept up to
	// date by header_set, header_add and header_del from then on.
	headerCounted bool
	headerCount   int // values
	headerBytes   int // len(name)+len(value) per value

	timer *time.Timer // poll_oneoff's, kept across Reset

	// Encodings built on first ask and kept for the guest's second call
	// (the one with a buffer large enough).
	path          string
	pathOK        bool
	headerNames   []byte
	headerNamesOK bool
	paramNames    []byte
	paramNamesOK  bool
	headerValues  lastList
	paramValues   lastList
	rc            *http.ResponseController

	// What kv_get and kv_list read and could not write: the guest's next
	// call for the same key or prefix gets it.
	kvGet, kvList kvKept

	// serviceContext's, for the request; End cancels it.
	svcCtx    context.Context
	svcCancel context.CancelFunc
}

// NewExchange returns the Exchange of one request: the guest reads r (its
// body through Exchange.Body) and params, the route params of the matched
// route, and writes its response to w.
func NewExchange(w http.ResponseWriter, r *http.Request, params []routes.Param) *Exchange {
	return &Exchange{w: w, r: r, params: params}
}

// Reset makes e the Exchange of a new request, as NewExchange(w, r, params)
// would return, Body, the limits, Done, Deadline, Outbound, KV and
// error_message's message included (all zero), but keeps the buffers and
// timer e allocated: a runtime may keep one Exchange per module instance
// rather than allocate one per request. It ends the previous request's
// fetches first, as End does.
func (e *Exchange) Reset(w http.ResponseWriter, r *http.Request, params []routes.Param) {
	e.End()
	*e = Exchange{
		w: w, r: r, params: params,
		timer:        e.timer,
		keys:         e.keys,
		values:       e.values,
		headerNames:  e.headerNames[:0],
		paramNames:   e.paramNames[:0],
		headerValues: lastList{key: e.headerValues.key[:0], list: e.headerValues.list[:0]},
		paramValues:  lastList{key: e.paramValues.key[:0], list: e.paramValues.list[:0]},
	}
}

// HeadSent reports whether the status line and headers have been sent, after
// which the runtime can no longer answer with an error status.
func (e *Exchange) HeadSent() bool { return e.headSent && !e.headHeld }

// BodyTooLarge reports whether the request body reader returned an
// *http.MaxBytesError, which body_read passed on as abi.ErrTooLarge. If the
// head is not sent yet, the runtime answers 413.
func (e *Exchange) BodyTooLarge() bool { return e.bodyTooLarge }

// Finish completes the response after the guest's method returned: it sends
// the head if the guest did not (status 200 unless set_status chose one,
// empty body). It returns the first error the http.ResponseWriter returned
// while the guest wrote or flushed (the guest saw abi.ErrClosed or
// abi.ErrBodyNotAllowed), e.g. because the client went away, or nil.
//
// A runtime that answers an error itself (a trap, BodyTooLarge) does so
// instead of calling Finish, only when HeadSent is false, and should first
// delete the headers the guest set (clear(w.Header())) so that none of them,
// a Set-Cookie say, goes out with the error.
//
// The head of a HEAD request's response waits for Finish or a flush: a guest
// that wrote a body and returned without flushing gets Content-Length set
// (unless it set one) to the length of what it wrote and the host dropped,
// the length its GET sends. One that wrote nothing gets none, as net/http
// does for a HEAD handler: it may have left the body out for HEAD.
func (e *Exchange) Finish() error {
	e.sendHead()
	if e.headHeld {
		if h := e.w.Header(); e.written > 0 && bodyAllowed(e.status) && h.Get("Content-Length") == "" {
			h.Set("Content-Length", strconv.FormatInt(e.written, 10))
		}
		e.writeHead()
	}
	return e.writeErr
}

// sendHead makes the status and headers final, and writes them unless the
// request is a HEAD (see Finish).
func (e *Exchange) sendHead() {
	if e.headSent {
		return
	}
	e.headSent = true
	if e.status == 0 {
		e.status = http.StatusOK
	}
	if e.r.Method == http.MethodHead {
		e.headHeld = true
		return
	}
	e.writeHead()
}

// writeHead writes the status and headers. A guest that started reading the
// request body and has not finished gets a full-duplex response: HTTP/1.1's
// server would otherwise discard the rest of the body when the head goes
// out (or close the connection), and an echo, say, would lose it. HTTP/2 is
// always full duplex.
func (e *Exchange) writeHead() {
	e.headHeld = false
	if e.bodyStarted && !e.bodyDone {
		_ = e.controller().EnableFullDuplex() // http.ErrNotSupported on HTTP/2: nothing to do
	}
	e.w.WriteHeader(e.status)
}

// controller returns the ResponseController of e's ResponseWriter.
func (e *Exchange) controller() *http.ResponseController {
	if e.rc == nil {
		e.rc = http.NewResponseController(e.w)
	}
	return e.rc
}

type exchangeKey struct{}

// WithExchange returns a copy of ctx carrying e, for the guest's method call:
// every host function finds the request there. A host function called with
// a context without one traps. It is safe for concurrent use.
func WithExchange(ctx context.Context, e *Exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, e)
}

// exchange returns the Exchange in ctx, or traps the guest calling fn.
//
// A request that must stop (its Done is closed) ends the guest's call here,
// as proc_exit would: past its deadline a guest reads and writes nothing more.
func exchange(ctx context.Context, fn string) *Exchange {
	e, _ := ctx.Value(exchangeKey{}).(*Exchange)
	if e == nil {
		trapf(fn, "called outside a request (the context carries no host.Exchange)")
	}
	stopIfDone(ctx, e)
	return e
}

// stopIfDone ends the guest's call if its request must stop: e.Done (when
// e is not nil) or ctx.Done() is closed.
func stopIfDone(ctx context.Context, e *Exchange) {
	// Two one-case selects, not one of three cases: each compiles to a
	// non-blocking receive, a load when the channel is open, where
	// selectgo locks both channels (~40 ns a host call).
	if e != nil {
		select {
		case <-e.Done:
			exitStopped(ctx)
		default:
		}
	}
	select {
	case <-ctx.Done():
		exitStopped(ctx)
	default:
	}
}

// exitStopped ends the guest's call with the exit code of ctx's end:
// sys.ExitCodeDeadlineExceeded after a deadline, else
// sys.ExitCodeContextCanceled.
func exitStopped(ctx context.Context) {
	code := sys.ExitCodeContextCanceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = sys.ExitCodeDeadlineExceeded
	}
	panic(sys.NewExitError(code))
}

// Instantiate registers the host module abi.ModuleName, with every function
// of abi.Funcs, in r. Call it once per wazero.Runtime (a second call fails),
// before instantiating route modules. The functions it registers are safe for
// concurrent use by different instances, each call with its own Exchange.
//
// The returned module lists the functions in abi.Funcs' order: see its
// ExportedFunctionDefinitions.
func Instantiate(ctx context.Context, r wazero.Runtime) (api.Module, error) {
	b := r.NewHostModuleBuilder(abi.ModuleName)
	for _, f := range hostFuncs {
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.fn, i32s(len(f.params)), i32s(1)).
			WithParameterNames(f.params...).
			WithResultNames(f.result).
			Export(f.name)
	}
	mod, err := b.Instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("instantiating host module %s: %w", abi.ModuleName, err)
	}
	return mod, nil
}

func i32s(n int) []api.ValueType { return slices.Repeat([]api.ValueType{api.ValueTypeI32}, n) }

// hostFunc is one host function as registered: its import name, its
// implementation and the names of its i32 parameters and result.
type hostFunc struct {
	name   string
	fn     api.GoModuleFunc
	params []string
	result string
}

// hostFuncs are the host functions in abi.Funcs' order.
var hostFuncs = [...]hostFunc{
	{abi.FuncMethod, methodFn, []string{"buf", "buf_len"}, "len"},
	{abi.FuncPath, pathFn, []string{"buf", "buf_len"}, "len"},
	{abi.FuncQuery, queryFn, []string{"buf", "buf_len"}, "len"},
	{abi.FuncProtocol, protocolFn, []string{"buf", "buf_len"}, "len"},
	{abi.FuncRemoteAddr, remoteAddrFn, []string{"buf", "buf_len"}, "len"},
	{abi.FuncHeaderNames, headerNamesFn, []string{"buf", "buf_len"}, "len"},
	{abi.FuncHeaderValues, headerValuesFn, []string{"name", "name_len", "buf", "buf_len"}, "len"},
	{abi.FuncParamNames, paramNamesFn, []string{"buf", "buf_len"}, "len"},
	{abi.FuncParamValues, paramValuesFn, []string{"name", "name_len", "buf", "buf_len"}, "len"},
	{abi.FuncBodyRead, bodyReadFn, []string{"buf", "buf_len"}, "n_or_err"},
	{abi.FuncSetStatus, setStatusFn, []string{"code"}, "err"},
	{abi.FuncHeaderSet, headerSetFn, []string{"name", "name_len", "value", "value_len"}, "err"},
	{abi.FuncHeaderAdd, headerAddFn, []string{"name", "name_len", "value", "value_len"}, "err"},
	{abi.FuncHeaderDel, headerDelFn, []string{"name", "name_len"}, "err"},
	{abi.FuncBodyWrite, bodyWriteFn, []string{"buf", "buf_len"}, "err"},
	{abi.FuncFlush, flushFn, nil, "err"},
	{abi.FuncErrorMessage, errorMessageFn, []string{"buf", "buf_len"}, "len"},
	{abi.FuncFetchStart, fetchStartFn, []string{"req", "req_len", "body", "body_len", "flags"}, "handle_or_err"},
	{abi.FuncFetchPoll, fetchPollFn, []string{"handles", "count", "timeout_ms"}, "index_or_err"},
	{abi.FuncFetchHead, fetchHeadFn, []string{"handle", "buf", "buf_len"}, "len_or_err"},
	{abi.FuncFetchBodyRead, fetchBodyReadFn, []string{"handle", "buf", "buf_len"}, "n_or_err"},
	{abi.FuncFetchClose, fetchCloseFn, []string{"handle"}, "err"},
	{abi.FuncKVGet, kvGetFn, []string{"key", "key_len", "buf", "buf_len"}, "len_or_err"},
	{abi.FuncKVSet, kvSetFn, []string{"key", "key_len", "value", "value_len", "ttl_seconds"}, "err"},
	{abi.FuncKVDelete, kvDeleteFn, []string{"key", "key_len"}, "err"},
	{abi.FuncKVList, kvListFn, []string{"prefix", "prefix_len", "buf", "buf_len"}, "len_or_err"},
	{abi.FuncKVIncr, kvIncrFn, []string{"key", "key_len", "inout"}, "err"},
	{abi.FuncCacheRevalidate, cacheRevalidateFn, []string{"path", "path_len"}, "err"},
	{abi.FuncRespond, respondFn, []string{"status", "headers", "headers_len", "body", "body_len"}, "err"},
}

// trap is the value a host function panics with to trap its guest. wazero
// recovers it and returns it, wrapped, from the guest's call.
type trap struct{ msg string }

func (t *trap) Error() string { return t.msg }

func trapf(fn, format string, args ...any) {
	panic(&trap{abi.ModuleName + "." + fn + ": " + fmt.Sprintf(format, args...)})
}

// view returns the guest memory [ptr, ptr+n) without copying, or traps the
// guest calling fn when that range is not inside memory. what names the
// argument for the message. The view is valid until the guest runs again
// (memory.grow moves it).
func (e *Exchange) view(mod api.Module, fn, what string, ptr, n uint32) []byte {
	if mod != e.mod {
		mem := mod.ExportedMemory(abi.ExportMemory)
		if mem == nil {
			trapf(fn, "the module does not export %q", abi.ExportMemory)
		}
		e.mod, e.mem = mod, mem
	}
	b, ok := e.mem.Read(ptr, n)
	if !ok {
		trapf(fn, "%s [%d, +%d) is outside memory (%d bytes)", what, ptr, n, e.mem.Size())
	}
	return b
}

// get writes value to the guest buffer [ptr, ptr+n) if it fits, else
// nothing, and returns the value's length as the getter's result.
func get[T string | []byte](e *Exchange, mod api.Module, fn string, ptr, n uint32, value T) uint64 {
	buf := e.view(mod, fn, "buf", ptr, n)
	if len(value) <= len(buf) {
		copy(buf, value)
	}
	return api.EncodeU32(uint32(len(value)))
}

// lastList caches the list encoding for the last key asked, so that the
// guest's second call (with a buffer large enough) costs a comparison.
type lastList struct {
	ok   bool
	key  []byte
	list []byte
}

// get returns the list for key, calling build to append it to an empty
// list only when key is not the last key asked.
func (c *lastList) get(e *Exchange, key []byte, build func(e *Exchange, list, key []byte) []byte) []byte {
	if !c.ok || string(c.key) != string(key) {
		c.key = append(c.key[:0], key...)
		c.list = build(e, c.list[:0], key)
		c.ok = true
	}
	return c.list
}

// readBody reads into buf, see bodyReadFn.
func (e *Exchange) readBody(buf []byte) int32 {
	const maxEmptyReads = 100 // as bufio: a reader that never progresses is broken
	if len(buf) > 1<<31-1 {
		buf = buf[:1<<31-1] // n must stay a positive i32
	}
	if len(buf) == 0 || e.Body == nil {
		return 0
	}
	e.bodyStarted = true
	for i := 0; !e.bodyDone; i++ {
		n, err := e.Body.Read(buf)
		if err == nil && n == 0 && i == maxEmptyReads {
			err = io.ErrNoProgress
		}
		if err != nil {
			e.endBody(err) // returned now if n == 0, else on the next call
		}
		if n > 0 {
			return int32(n)
		}
	}
	return e.bodyCode
}

func (e *Exchange) endBody(err error) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		e.bodyCode = 0
	case errors.As(err, &tooLarge):
		e.bodyCode, e.bodyTooLarge = abi.ErrTooLarge, true
	default:
		e.bodyCode = abi.ErrClosed
	}
	e.bodyDone = true
}

// writeBody writes buf to the response, see bodyWriteFn.
func (e *Exchange) writeBody(buf []byte) int32 {
	switch {
	case len(buf) == 0:
		e.sendHead()
		return abi.OK
	case !bodyAllowed(e.status):
		return abi.ErrBodyNotAllowed
	case e.MaxResponseBytes > 0 && int64(len(buf)) > e.MaxResponseBytes-e.written:
		return abi.ErrTooLarge
	}
	e.sendHead()
	if e.r.Method == http.MethodHead {
		// The body of a HEAD response is dropped here rather than left to
		// the ResponseWriter: not every ResponseWriter drops it.
		e.written += int64(len(buf))
		return abi.OK
	}
	n, err := e.w.Write(buf)
	e.written += int64(n)
	return e.writeCode(err)
}

// writeCode maps an error of the ResponseWriter to the abi.
func (e *Exchange) writeCode(err error) int32 {
	if err == nil {
		return abi.OK
	}
	if e.writeErr == nil {
		e.writeErr = err
	}
	if errors.Is(err, http.ErrBodyNotAllowed) {
		return abi.ErrBodyNotAllowed
	}
	return abi.ErrClosed
}

// bodyAllowed reports whether status may have a body (status 0 is 200).
func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200 || status == http.StatusNoContent || status == http.StatusNotModified)
}

// headerOp is a change of a response header.
type headerOp int

const (
	headerSet headerOp = iota // http.Header.Set
	headerAdd                 // http.Header.Add
	headerDel                 // http.Header.Del
)

// editHeader validates a response header change, checks it against the
// header limits and applies it as http.Header's method of the same name
// would: under the canonical form of name.
func (e *Exchange) editHeader(op headerOp, name, value []byte) int32 {
	switch {
	case !abi.ValidHeaderName(name) || !abi.ValidHeaderValue(value):
		return abi.ErrInvalid
	case e.headSent:
		return abi.ErrHeadersSent
	}
	key := intern(&e.keys, name, http.CanonicalHeaderKey)
	if e.countsHeaders() {
		count, size := e.headerCount, e.headerBytes
		e.headerChange(&count, &size, op, key, value)
		if op != headerDel && e.headersTooLarge(count, size) {
			return abi.ErrTooLarge
		}
		e.headerCount, e.headerBytes = count, size
	}
	e.applyHeader(op, key, value)
	return abi.OK
}

// countsHeaders reports whether the response header's size is counted (a
// limit is set), counting it on the first call.
func (e *Exchange) countsHeaders() bool {
	if !e.headerCounted && (e.MaxHeaders > 0 || e.MaxHeaderBytes > 0) {
		e.headerCount, e.headerBytes = headerSize(e.w.Header())
		e.headerCounted = true
	}
	return e.headerCounted
}

// headerChange updates the count and size of the response header for op on
// key, which holds what the ResponseWriter's header holds.
func (e *Exchange) headerChange(count, size *int, op headerOp, key string, value []byte) {
	if op != headerAdd { // set and del drop what key holds
		old := e.w.Header()[key]
		*count -= len(old)
		for _, v := range old {
			*size -= len(key) + len(v)
		}
	}
	if op != headerDel {
		*count++
		*size += len(key) + len(value)
	}
}

// headersTooLarge reports whether a header of count values and size bytes
// passes a header limit.
func (e *Exchange) headersTooLarge(count, size int) bool {
	return e.MaxHeaders > 0 && count > e.MaxHeaders || e.MaxHeaderBytes > 0 && size > e.MaxHeaderBytes
}

// applyHeader makes op's change under the canonical key, checked already.
func (e *Exchange) applyHeader(op headerOp, key string, value []byte) {
	h := e.w.Header()
	switch op {
	case headerSet:
		h[key] = []string{intern(&e.values, value, nil)}
	case headerAdd:
		h[key] = append(h[key], intern(&e.values, value, nil))
	case headerDel:
		delete(h, key)
	}
}

// maxInterned bounds each of an Exchange's string caches, and
// maxInternedLen the strings they keep: what an idle instance holds for
// them stays under 2 × 64 × 128 bytes, whatever its guest sends.
const (
	maxInterned    = 64
	maxInternedLen = 128
)

// intern returns f(string(b)) (or string(b) when f is nil), from *cache when
// b was seen before: a guest sets the same header names and, mostly, values
// on every request, and an Exchange lives as long as its instance.
func intern(cache *map[string]string, b []byte, f func(string) string) string {
	if s, ok := (*cache)[string(b)]; ok {
		return s
	}
	k := string(b)
	s := k
	if f != nil {
		s = f(k)
	}
	if len(k) > maxInternedLen {
		return s
	}
	if *cache == nil || len(*cache) >= maxInterned {
		*cache = make(map[string]string)
	}
	(*cache)[k] = s
	return s
}

// headerSize returns the number of values in h and the sum of
// len(name)+len(value) over them.
func headerSize(h http.Header) (count, size int) {
	for k, values := range h {
		count += len(values)
		for _, v := range values {
			size += len(k) + len(v)
		}
	}
	return count, size
}

// equalFold reports whether b and s are equal ignoring ASCII case, as
// header names compare.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(s) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
