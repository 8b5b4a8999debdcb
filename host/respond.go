package host

import (
	"context"
	"net/http"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmroute/wasmroute/abi"
)

// maxRespondHeaders bounds the headers one respond sets: a guest with more
// sets them one by one (header_set). It keeps respond's checks on the stack.
const maxRespondHeaders = 16

// respondFn supports abi.FuncRespond: a whole simple response in one host
// call, where a guest would otherwise call set_status, header_set per header
// and body_write, each a transition between the guest and the host.
//
// # Parameters
//
//   - status: the status, 200 to 999, or 0 to keep the one set (200 by
//     default)
//   - headers, headers_len: a list (abi.AppendItem encoding) alternating
//     names and values, each pair set as header_set does; at most 16 pairs
//   - body, body_len: the body to write as body_write does; nothing is
//     written, and the head not sent, when body_len is 0
//
// Both ranges must lie inside memory, else the guest traps.
//
// Result (err): abi.OK; otherwise nothing changed and it is the error the
// first failing step would return: abi.ErrInvalid for a bad status, a
// malformed list (a length past its end, an odd number of items, more than
// 16 pairs), a bad name or value or a name twice (ignoring case);
// abi.ErrHeadersSent once the head is sent (unless status is 0 and the list
// is empty: then it only writes); abi.ErrTooLarge when the headers, counted
// as they would be after the whole list, pass a header limit;
// abi.ErrBodyNotAllowed or abi.ErrTooLarge for the body as body_write
// checks it. abi.ErrClosed, from the write itself, comes after the head
// and headers were applied.
//
// For example, status=200, headers=1, headers_len=30, body=31, body_len=2
// answer 200 "hi" with "content-type: text/plain":
//
//	           uint32le                  uint32le
//	          +---------+               +---------+
//	          |         |               |         |
//	[]byte{?, 12, 0, 0, 0, 'c', ..., 'e', 10, 0, 0, 0, 't', ..., 'n', 'h', 'i'}
//	headers --^                                                 body --^
func respondFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncRespond)
	status := api.DecodeU32(stack[0])
	list := e.view(mod, abi.FuncRespond, "headers", api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	body := e.view(mod, abi.FuncRespond, "body", api.DecodeU32(stack[3]), api.DecodeU32(stack[4]))
	stack[0] = api.EncodeI32(e.respond(status, list, body))
}

// respond checks the whole response, then applies it: see respondFn.
func (e *Exchange) respond(status uint32, list, body []byte) int32 {
	if status != 0 && (status < 200 || status > 999) {
		return abi.ErrInvalid
	}
	var pairs [maxRespondHeaders][2][]byte
	n := 0
	for len(list) > 0 {
		name, rest, ok := abi.NextItem(list)
		if !ok {
			return abi.ErrInvalid
		}
		value, rest, ok := abi.NextItem(rest)
		if !ok || n == len(pairs) || !abi.ValidHeaderName(name) || !abi.ValidHeaderValue(value) {
			return abi.ErrInvalid
		}
		for _, p := range pairs[:n] {
			if equalFoldBytes(p[0], name) {
				return abi.ErrInvalid
			}
		}
		pairs[n] = [2][]byte{name, value}
		n++
		list = rest
	}
	if e.headSent && (status != 0 || n > 0) {
		return abi.ErrHeadersSent
	}
	var keys [maxRespondHeaders]string
	for i, p := range pairs[:n] {
		keys[i] = intern(&e.keys, p[0], http.CanonicalHeaderKey)
	}
	counted := e.countsHeaders()
	count, size := e.headerCount, e.headerBytes
	if counted {
		for i, p := range pairs[:n] {
			e.headerChange(&count, &size, headerSet, keys[i], p[1])
		}
		if n > 0 && e.headersTooLarge(count, size) {
			return abi.ErrTooLarge
		}
	}
	effective := e.status
	if status != 0 {
		effective = int(status)
	}
	if len(body) > 0 {
		switch {
		case !bodyAllowed(effective):
			return abi.ErrBodyNotAllowed
		case e.MaxResponseBytes > 0 && int64(len(body)) > e.MaxResponseBytes-e.written:
			return abi.ErrTooLarge
		}
	}
	if status != 0 {
		e.status = int(status)
	}
	for i, p := range pairs[:n] {
		e.applyHeader(headerSet, keys[i], p[1])
	}
	if counted {
		e.headerCount, e.headerBytes = count, size
	}
	if len(body) == 0 {
		return abi.OK
	}
	return e.writeBody(body)
}

// equalFoldBytes reports whether a and b are equal ignoring ASCII case.
func equalFoldBytes(a, b []byte) bool {
	return len(a) == len(b) && equalFold(a, string(b))
}
