package host

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmroute/wasmroute/abi"
)

// methodFn supports abi.FuncMethod: it writes the request method to a guest
// buffer.
//
// # Parameters
//
//   - buf: offset in memory to write the method to
//   - buf_len: size of that buffer in bytes
//
// Result (len): the length of the method. The method is written only when it
// fits (len <= buf_len); otherwise memory is left untouched and the guest
// calls again with a buffer of at least len bytes. (buf, buf_len) must lie
// inside memory even when nothing is written, else the guest traps.
//
// For example, for a GET request with buf=1 and buf_len=4, this writes the
// below and returns 3:
//
//	             len = 3
//	          +-----------+
//	          |           |
//	[]byte{?, 'G', 'E', 'T', ?, ?}
//	    buf --^
//
// With buf_len=2 it writes nothing and returns 3. Every getter below works
// the same way; the list getters write abi.AppendItem encodings.
func methodFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncMethod)
	stack[0] = get(e, mod, abi.FuncMethod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), e.r.Method)
}

// pathFn supports abi.FuncPath: it writes the request path as the client sent
// it, still escaped (r.URL.EscapedPath()), e.g. "/blog/hello%20world", to
// (buf, buf_len) and returns its length, as methodFn does.
func pathFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncPath)
	if !e.pathOK {
		e.path, e.pathOK = e.r.URL.EscapedPath(), true
	}
	stack[0] = get(e, mod, abi.FuncPath, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), e.path)
}

// queryFn supports abi.FuncQuery: it writes the raw query without '?'
// (r.URL.RawQuery), e.g. "a=1&tag=x", to (buf, buf_len) and returns its
// length, as methodFn does. The length is 0 when there is no query.
func queryFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncQuery)
	stack[0] = get(e, mod, abi.FuncQuery, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), e.r.URL.RawQuery)
}

// protocolFn supports abi.FuncProtocol: it writes r.Proto, e.g. "HTTP/1.1",
// to (buf, buf_len) and returns its length, as methodFn does.
func protocolFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncProtocol)
	stack[0] = get(e, mod, abi.FuncProtocol, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), e.r.Proto)
}

// remoteAddrFn supports abi.FuncRemoteAddr: it writes r.RemoteAddr, e.g.
// "192.0.2.1:1234", to (buf, buf_len) and returns its length, as methodFn
// does.
func remoteAddrFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncRemoteAddr)
	stack[0] = get(e, mod, abi.FuncRemoteAddr, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), e.r.RemoteAddr)
}

// headerNamesFn supports abi.FuncHeaderNames: it writes the list of request
// header names, lowercase, sorted and each once, to (buf, buf_len) and
// returns the list's length, as methodFn does. "host" is listed when the
// request has a host (net/http moves it from r.Header to r.Host).
//
// For example, for a request with "Accept" and "Host" headers, buf=1 and
// buf_len=20, this writes the below and returns 18:
//
//	           uint32le                   uint32le
//	          +--------+                 +--------+
//	          |        |                 |        |
//	[]byte{?, 6, 0, 0, 0, 'a', ..., 't', 4, 0, 0, 0, 'h', 'o', 's', 't', ?, ?}
//	    buf --^
//
// The list is built on the first call and kept for the Exchange.
func headerNamesFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncHeaderNames)
	if !e.headerNamesOK {
		e.headerNames, e.headerNamesOK = appendHeaderNames(e.headerNames[:0], e.r), true
	}
	stack[0] = get(e, mod, abi.FuncHeaderNames, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), e.headerNames)
}

func appendHeaderNames(list []byte, r *http.Request) []byte {
	names := make([]string, 0, len(r.Header)+1)
	for k := range r.Header {
		if name := strings.ToLower(k); name != "host" { // r.Host is the request's host
			names = append(names, name)
		}
	}
	if r.Host != "" {
		names = append(names, "host")
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		list = abi.AppendItem(list, name)
	}
	return list
}

// headerValuesFn supports abi.FuncHeaderValues: it writes the list of the
// values, in the order received, of the request header whose name is in
// memory at (name, name_len), matched ignoring ASCII case. "host" gives
// r.Host. An absent header gives an empty list (length 0).
//
// # Parameters
//
//   - name, name_len: the header name in memory
//   - buf, buf_len: the buffer to write the list to, as for methodFn
//
// For example, for a request with "Accept: text/html" and "Accept: */*",
// name=1, name_len=6, buf=7 and buf_len=20, this writes the below and
// returns 20:
//
//	                          uint32le                   uint32le
//	                         +--------+                 +--------+
//	                         |        |                 |        |
//	[]byte{?, 'a', ..., 't', 9, 0, 0, 0, 't', ..., 'l', 3, 0, 0, 0, '*', '/', '*', ?}
//	   name --^        buf --^
//
// The list of the last name asked is kept, so that the guest's second call
// does not build it again. When r.Header holds the name under several
// spellings (only possible for a hand-built request), their values are
// concatenated in no particular order.
func headerValuesFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncHeaderValues)
	name := e.view(mod, abi.FuncHeaderValues, "name", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	list := e.headerValues.get(e, name, appendHeaderValues)
	stack[0] = get(e, mod, abi.FuncHeaderValues, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), list)
}

func appendHeaderValues(e *Exchange, list, name []byte) []byte {
	if equalFold(name, "host") {
		if e.r.Host != "" {
			list = abi.AppendItem(list, e.r.Host)
		}
		return list
	}
	for k, values := range e.r.Header {
		if equalFold(name, k) {
			for _, v := range values {
				list = abi.AppendItem(list, v)
			}
		}
	}
	return list
}

// paramNamesFn supports abi.FuncParamNames: it writes the list of the
// route's param names, in path order, to (buf, buf_len) and returns the
// list's length, as methodFn does. For app/blog/[slug] the list is ["slug"]:
//
//	           uint32le
//	          +--------+
//	          |        |
//	[]byte{?, 4, 0, 0, 0, 's', 'l', 'u', 'g', ?}
//	    buf --^
//
// The list is built on the first call and kept for the Exchange.
func paramNamesFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncParamNames)
	if !e.paramNamesOK {
		list := e.paramNames[:0]
		for _, p := range e.params {
			list = abi.AppendItem(list, p.Name)
		}
		e.paramNames, e.paramNamesOK = list, true
	}
	stack[0] = get(e, mod, abi.FuncParamNames, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), e.paramNames)
}

// paramValuesFn supports abi.FuncParamValues: it writes the list of the
// decoded values of the route param whose name (matched exactly) is in
// memory at (name, name_len): one item for [x], one per segment for [...x]
// and [[...x]] (none when an optional catch-all matched nothing), none for a
// name the route does not have. Parameters and result are as for
// headerValuesFn.
//
// For example, for app/docs/[...path] and the path "/docs/a/b%20c", the
// values of "path" are:
//
//	           uint32le         uint32le
//	          +--------+       +--------+
//	          |        |       |        |
//	[]byte{?, 1, 0, 0, 0, 'a', 3, 0, 0, 0, 'b', ' ', 'c', ?}
//	    buf --^
//
// The list of the last name asked is kept, as for headerValuesFn.
func paramValuesFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncParamValues)
	name := e.view(mod, abi.FuncParamValues, "name", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	list := e.paramValues.get(e, name, appendParamValues)
	stack[0] = get(e, mod, abi.FuncParamValues, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), list)
}

func appendParamValues(e *Exchange, list, name []byte) []byte {
	for _, p := range e.params {
		if p.Name == string(name) {
			for _, v := range p.Values() {
				list = abi.AppendItem(list, v)
			}
			break
		}
	}
	return list
}

// bodyReadFn supports abi.FuncBodyRead: it reads the next bytes of
// Exchange.Body straight into guest memory.
//
// # Parameters
//
//   - buf: offset in memory to read into
//   - buf_len: the most bytes to read; (buf, buf_len) must lie inside
//     memory, else the guest traps
//
// Result (n_or_err): the number of bytes read, 1 to buf_len (at most 2^31-1
// so that it stays a positive i32); 0 at the end of the body, when buf_len
// is 0 or when Body is nil; abi.ErrTooLarge when Body returned an
// *http.MaxBytesError (then Exchange.BodyTooLarge reports true); or
// abi.ErrClosed for any other read error. Reads that return neither bytes
// nor an error are retried. When a read returns bytes and an error, the
// bytes are returned now and the error on the next call. Only buf[0:n] is
// defined afterwards: a reader may use the whole buffer as scratch space.
//
// For example, for the body "hi" with buf=1 and buf_len=4, the first call
// writes the below and returns 2, the next returns 0:
//
//	           n = 2
//	          +------+
//	          |      |
//	[]byte{?, 'h', 'i', ?, ?, ?}
//	    buf --^
func bodyReadFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncBodyRead)
	buf := e.view(mod, abi.FuncBodyRead, "buf", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	stack[0] = api.EncodeI32(e.readBody(buf))
}

// setStatusFn supports abi.FuncSetStatus: it sets the status the head will
// be sent with (default 200).
//
// # Parameters
//
//   - code: the status, 200 to 999
//
// Result (err): abi.OK; abi.ErrInvalid for a code outside 200..999;
// abi.ErrHeadersSent once the head is sent.
func setStatusFn(ctx context.Context, _ api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncSetStatus)
	code := api.DecodeU32(stack[0])
	switch {
	case code < 200 || code > 999:
		stack[0] = api.EncodeI32(abi.ErrInvalid)
	case e.headSent:
		stack[0] = api.EncodeI32(abi.ErrHeadersSent)
	default:
		e.status = int(code)
		stack[0] = api.EncodeI32(abi.OK)
	}
}

// headerSetFn supports abi.FuncHeaderSet: it replaces the response header
// named by (name, name_len) with the single value (value, value_len), as
// http.Header.Set does.
//
// # Parameters
//
//   - name, name_len: the header name in memory, an HTTP token
//   - value, value_len: the value in memory, without control characters
//     other than horizontal tab (so no CR, LF or NUL)
//
// Both ranges must lie inside memory, else the guest traps.
//
// Result (err): abi.OK; abi.ErrInvalid for a bad name or value;
// abi.ErrHeadersSent once the head is sent; abi.ErrTooLarge, changing
// nothing, when the header would then hold more values than
// Exchange.MaxHeaders or more bytes than Exchange.MaxHeaderBytes (counted
// after the replacement: the values it drops give their room back).
//
// For example, name=1, name_len=4, value=5, value_len=2 sets "Vary: 42":
//
//	               name_len       value_len
//	          +----------------+  +------+
//	          |                |  |      |
//	[]byte{?, 'v', 'a', 'r', 'y', '4', '2', ?}
//	   name --^           value --^
func headerSetFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncHeaderSet)
	name := e.view(mod, abi.FuncHeaderSet, "name", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	value := e.view(mod, abi.FuncHeaderSet, "value", api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	stack[0] = api.EncodeI32(e.editHeader(headerSet, name, value))
}

// headerAddFn supports abi.FuncHeaderAdd: it appends the value (value,
// value_len) to the response header named by (name, name_len), as
// http.Header.Add does, so that several Set-Cookie headers all reach the
// client. Parameters and result are as for headerSetFn.
func headerAddFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncHeaderAdd)
	name := e.view(mod, abi.FuncHeaderAdd, "name", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	value := e.view(mod, abi.FuncHeaderAdd, "value", api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	stack[0] = api.EncodeI32(e.editHeader(headerAdd, name, value))
}

// headerDelFn supports abi.FuncHeaderDel: it removes the response header
// named by (name, name_len), as http.Header.Del does, which gives its values'
// room back under the header limits. The name must lie inside memory, else
// the guest traps. Result as for headerSetFn, never abi.ErrTooLarge.
func headerDelFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncHeaderDel)
	name := e.view(mod, abi.FuncHeaderDel, "name", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	stack[0] = api.EncodeI32(e.editHeader(headerDel, name, nil))
}

// bodyWriteFn supports abi.FuncBodyWrite: it writes (buf, buf_len) straight
// from guest memory to the response body, sending the head first if it is
// not sent yet.
//
// # Parameters
//
//   - buf: offset in memory of the bytes to write
//   - buf_len: how many; (buf, buf_len) must lie inside memory, else the
//     guest traps
//
// Result (err): abi.OK; abi.ErrBodyNotAllowed for a non-empty write when
// the status has no body (204, 304), the head then not being sent;
// abi.ErrTooLarge, writing nothing, when the body would grow past
// Exchange.MaxResponseBytes; abi.ErrClosed when the ResponseWriter fails
// (the client is gone). For a HEAD request net/http drops the body itself.
//
// For example, buf=1 and buf_len=2 write "hi":
//
//	          buf_len
//	          +------+
//	          |      |
//	[]byte{?, 'h', 'i', ?}
//	    buf --^
func bodyWriteFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncBodyWrite)
	buf := e.view(mod, abi.FuncBodyWrite, "buf", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	stack[0] = api.EncodeI32(e.writeBody(buf))
}

// flushFn supports abi.FuncFlush: it sends the head if needed, then flushes
// the response with http.ResponseController.Flush.
//
// Result (err): abi.OK, also when the ResponseWriter cannot flush
// (http.ErrNotSupported); abi.ErrClosed when flushing fails.
func flushFn(ctx context.Context, _ api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncFlush)
	e.sendHead()
	if e.headHeld {
		e.writeHead() // a HEAD flushed: its length is not known
	}
	err := e.controller().Flush()
	if errors.Is(err, http.ErrNotSupported) {
		err = nil
	}
	stack[0] = api.EncodeI32(e.writeCode(err))
}
