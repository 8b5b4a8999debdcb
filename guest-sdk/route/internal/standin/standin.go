// Package standin is the in-memory host that packages route and route/kv
// talk to when they are not built for wasip1. It implements every function
// of the wasmroute_v1 ABI (package abi) over an Exchange, with the host's
// buffer protocol, list encoding, validation and error codes, so that the
// SDK code above the raw import layer runs unchanged in native tests.
//
// The request and response functions are in this file; error_message, the
// outbound HTTP (fetch_*) and key-value (kv_*) functions in services.go,
// which answers them from the Exchange's Fetch function and Namespace.
//
// Package routetest is its public face; nothing else should import it.
package standin

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wasmroute/wasmroute/abi"
)

// Field is one header line.
type Field struct {
	Name, Value string
}

// Param is one route param and its values: one for [x], one per segment for
// a catch-all.
type Param struct {
	Name   string
	Values []string
}

// Exchange is one request and the response a handler gives to it. The
// request fields are set before Run; the response fields are filled in by
// the ABI functions while the handler runs. An Exchange is used by one Run
// at a time.
type Exchange struct {
	// Request.
	Method, Path, Query, Protocol, RemoteAddr string
	Header                                    []Field // in the order received
	Params                                    []Param // in path order
	Body                                      io.Reader
	BodyLimit                                 int64 // > 0: body_read fails with ErrTooLarge past it
	ResponseLimit                             int64 // > 0: body_write fails with ErrTooLarge past it
	CloseAfterFlushes                         int   // > 0: the client is gone after that many flushes

	// Response.
	Status     int     // 200 unless set
	RespHeader []Field // in the order added
	RespBody   []byte
	Flushes    []int // len(RespBody) at each successful flush
	HeadSent   bool  // the first body write or flush happened
	Closed     bool  // the client is gone

	// Services (services.go).

	// Fetch answers the outbound requests, one call per hop: the stand-in
	// follows redirects itself, as the host does. An error wrapping
	// ErrDenied fails the fetch with abi.ErrDenied, any other with
	// abi.ErrFailed. Nil: every fetch_start is abi.ErrDenied, as on a host
	// whose route has no allowedOutboundHosts.
	Fetch func(*http.Request) (*http.Response, error)
	// MaxFetches, when positive, bounds fetch_start calls (abi.ErrLimit
	// past it); MaxFetchBody, when positive, each response body
	// (abi.ErrTooLarge past it).
	MaxFetches   int
	MaxFetchBody int64
	// KV is the key-value namespace. Nil: every kv_* call is
	// abi.ErrFailed, as on a host without a store.
	KV Namespace

	// Revalidated lists the paths cache_revalidate was called with, in
	// order.
	Revalidated []string

	// Trace records each fetch_* and kv_* call in order with its result,
	// e.g. "fetch_start GET https://a.test/ -> 1" or
	// "fetch_body_read 1 -> ErrPending". OnCall, when set, is called with
	// each entry as it is recorded, on the guest's goroutine.
	Trace  []string
	OnCall func(call string)

	bodyRead int64 // bytes the guest has received
	bodyEOF  bool

	svc services
}

var (
	mu      sync.Mutex // one exchange at a time, like one guest instance
	current atomic.Pointer[Exchange]
)

// Run makes x the current exchange, calls f, and clears it again. Calls are
// serialized: a second Run waits until the first returns. Run is safe for
// concurrent use.
func Run(x *Exchange, f func()) {
	mu.Lock()
	defer mu.Unlock()
	if x.Status == 0 {
		x.Status = 200
	}
	current.Store(x)
	defer current.Store(nil)
	defer x.closeFetches() // as the host does when the method returns
	f()
}

// get implements the getter protocol: the value is written only when it fits,
// and its full length is returned either way.
func get(buf []byte, v string) uint32 {
	if len(v) <= len(buf) {
		copy(buf, v)
	}
	return uint32(len(v))
}

func getList(buf []byte, items []string) uint32 {
	var list []byte
	for _, it := range items {
		list = abi.AppendItem(list, it)
	}
	return get(buf, string(list))
}

// field returns the current exchange's value picked by f, or "" outside Run.
func field(f func(x *Exchange) string) string {
	x := current.Load()
	if x == nil {
		return ""
	}
	return f(x)
}

// Method implements abi.FuncMethod.
func Method(buf []byte) uint32 {
	return get(buf, field(func(x *Exchange) string { return x.Method }))
}

// Path implements abi.FuncPath.
func Path(buf []byte) uint32 {
	return get(buf, field(func(x *Exchange) string { return x.Path }))
}

// Query implements abi.FuncQuery.
func Query(buf []byte) uint32 {
	return get(buf, field(func(x *Exchange) string { return x.Query }))
}

// Protocol implements abi.FuncProtocol.
func Protocol(buf []byte) uint32 {
	return get(buf, field(func(x *Exchange) string { return x.Protocol }))
}

// RemoteAddr implements abi.FuncRemoteAddr.
func RemoteAddr(buf []byte) uint32 {
	return get(buf, field(func(x *Exchange) string { return x.RemoteAddr }))
}

// HeaderNames implements abi.FuncHeaderNames: lowercase, sorted, each once.
func HeaderNames(buf []byte) uint32 {
	x := current.Load()
	if x == nil {
		return 0
	}
	var names []string
	for _, f := range x.Header {
		names = append(names, strings.ToLower(f.Name))
	}
	slices.Sort(names)
	return getList(buf, slices.Compact(names))
}

// HeaderValues implements abi.FuncHeaderValues.
func HeaderValues(name string, buf []byte) uint32 {
	x := current.Load()
	if x == nil {
		return 0
	}
	var vals []string
	for _, f := range x.Header {
		if strings.EqualFold(f.Name, name) {
			vals = append(vals, f.Value)
		}
	}
	return getList(buf, vals)
}

// ParamNames implements abi.FuncParamNames.
func ParamNames(buf []byte) uint32 {
	x := current.Load()
	if x == nil {
		return 0
	}
	var names []string
	for _, p := range x.Params {
		names = append(names, p.Name)
	}
	return getList(buf, names)
}

// ParamValues implements abi.FuncParamValues.
func ParamValues(name string, buf []byte) uint32 {
	x := current.Load()
	if x == nil {
		return 0
	}
	for _, p := range x.Params {
		if p.Name == name {
			return getList(buf, p.Values)
		}
	}
	return 0
}

// BodyRead implements abi.FuncBodyRead.
func BodyRead(buf []byte) int32 {
	x := current.Load()
	switch {
	case x == nil || x.Closed:
		return abi.ErrClosed
	case len(buf) == 0 || x.bodyEOF || x.Body == nil:
		return 0
	}
	if x.BodyLimit > 0 {
		if x.bodyRead >= x.BodyLimit {
			// At the limit: the body is too large if one more byte exists.
			var one [1]byte
			if n, _ := io.ReadFull(x.Body, one[:]); n > 0 {
				return abi.ErrTooLarge
			}
			x.bodyEOF = true
			return 0
		}
		if rest := x.BodyLimit - x.bodyRead; int64(len(buf)) > rest {
			buf = buf[:rest]
		}
	}
	for {
		n, err := x.Body.Read(buf)
		x.bodyRead += int64(n)
		if n > 0 {
			return int32(n)
		}
		if err == io.EOF {
			x.bodyEOF = true
			return 0
		}
		if err != nil {
			// As the host does: a failing body means the client is gone.
			x.Closed = true
			return abi.ErrClosed
		}
	}
}

// respHead checks that the head may still change.
func respHead() (*Exchange, int32) {
	x := current.Load()
	switch {
	case x == nil || x.Closed:
		return nil, abi.ErrClosed
	case x.HeadSent:
		return nil, abi.ErrHeadersSent
	}
	return x, abi.OK
}

// Respond implements abi.FuncRespond as the calls it stands for, in order,
// up to the first that fails: unlike the host's, it may leave the earlier
// ones done, which the SDK, that calls them again after a failure, cannot
// tell apart.
func Respond(status int32, headers, body []byte) int32 {
	if status != 0 {
		if code := SetStatus(status); code != abi.OK {
			return code
		}
	}
	for len(headers) > 0 {
		name, rest, ok := abi.NextItem(headers)
		if !ok {
			return abi.ErrInvalid
		}
		value, rest, ok := abi.NextItem(rest)
		if !ok {
			return abi.ErrInvalid
		}
		if code := HeaderSet(string(name), string(value)); code != abi.OK {
			return code
		}
		headers = rest
	}
	if len(body) == 0 {
		return abi.OK
	}
	return BodyWrite(body)
}

// SetStatus implements abi.FuncSetStatus.
func SetStatus(code int32) int32 {
	if code < 200 || code > 999 {
		return abi.ErrInvalid
	}
	x, errno := respHead()
	if x == nil {
		return errno
	}
	x.Status = int(code)
	return abi.OK
}

// HeaderSet implements abi.FuncHeaderSet.
func HeaderSet(name, value string) int32 {
	if !abi.ValidHeaderName(name) || !abi.ValidHeaderValue(value) {
		return abi.ErrInvalid
	}
	x, errno := respHead()
	if x == nil {
		return errno
	}
	x.del(name)
	x.RespHeader = append(x.RespHeader, Field{name, value})
	return abi.OK
}

// HeaderAdd implements abi.FuncHeaderAdd.
func HeaderAdd(name, value string) int32 {
	if !abi.ValidHeaderName(name) || !abi.ValidHeaderValue(value) {
		return abi.ErrInvalid
	}
	x, errno := respHead()
	if x == nil {
		return errno
	}
	x.RespHeader = append(x.RespHeader, Field{name, value})
	return abi.OK
}

// HeaderDel implements abi.FuncHeaderDel.
func HeaderDel(name string) int32 {
	if !abi.ValidHeaderName(name) {
		return abi.ErrInvalid
	}
	x, errno := respHead()
	if x == nil {
		return errno
	}
	x.del(name)
	return abi.OK
}

func (x *Exchange) del(name string) {
	x.RespHeader = slices.DeleteFunc(x.RespHeader, func(f Field) bool {
		return strings.EqualFold(f.Name, name)
	})
}

// BodyWrite implements abi.FuncBodyWrite. A HEAD request's body is dropped.
func BodyWrite(buf []byte) int32 {
	x := current.Load()
	switch {
	case x == nil || x.Closed:
		return abi.ErrClosed
	case len(buf) > 0 && (x.Status == 204 || x.Status == 304):
		return abi.ErrBodyNotAllowed
	case x.ResponseLimit > 0 && int64(len(x.RespBody))+int64(len(buf)) > x.ResponseLimit:
		return abi.ErrTooLarge
	}
	x.HeadSent = true
	if x.Method != "HEAD" {
		x.RespBody = append(x.RespBody, buf...)
	}
	return abi.OK
}

// Flush implements abi.FuncFlush.
func Flush() int32 {
	x := current.Load()
	if x == nil || x.Closed {
		return abi.ErrClosed
	}
	x.HeadSent = true
	x.Flushes = append(x.Flushes, len(x.RespBody))
	if x.CloseAfterFlushes > 0 && len(x.Flushes) >= x.CloseAfterFlushes {
		x.Closed = true
	}
	return abi.OK
}
