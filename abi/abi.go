// Package abi is the contract between wasmroute and a route module: the host
// module's name, one constant per host function with its signature, the
// exports a module provides, and the codes host functions return.
//
// It is the single source of truth: the host (package host) registers exactly
// these functions, the Go guest SDK imports exactly these names, and ABI.md
// restates the contract for authors in other languages. It imports only the
// standard library so guest code may import it too.
//
// # Shape
//
// A module exports "memory" and one function per HTTP method it serves, named
// exactly as in Methods (or any other method, see IsExtraMethod), each with
// no parameters and no results. An optional "_initialize" export runs once
// per instance before any method. During a
// method call the guest pulls what it needs from the request through the
// functions below and pushes its response the same way; nothing is serialized
// that the guest did not ask for.
//
// # Memory
//
// Every pointer is an offset into the guest's exported memory, and every
// (ptr, len) pair must lie inside it: a range that does not traps the guest
// (the call fails and the client gets 500). Integers are unsigned 32-bit
// unless a result is documented as signed.
//
// Getters take a buffer (buf, bufLen) and return the full length of the value.
// When the value fits (length <= bufLen) it is written to buf[0:length];
// otherwise nothing is written and the guest calls again with a buffer of at
// least the returned length. A getter never fails for a well-formed call.
//
// A list (header names, the values of one header, route params) is encoded
// as its items one after another, each item a 4-byte little-endian length
// followed by that many bytes:
//
//	"text/html", "*/*"  ->  09 00 00 00 't' 'e' 'x' 't' '/' 'h' 't' 'm' 'l'
//	                        03 00 00 00 '*' '/' '*'
//
// An empty list (an absent header, an unknown param, an optional catch-all
// that matched nothing) has length 0.
//
// # Versioning
//
// Functions live in the host module named ModuleName. A later, incompatible
// ABI gets a new module name ("wasmroute_v2"), and the host keeps serving
// modules that import ModuleName unchanged. Additions that do not change an
// existing function's meaning (a new function, a new error code returned only
// by a new function) may be made to v1; a guest that imports a function the
// host does not provide is rejected at load time, naming that import.
package abi

// ModuleName is the name of the host module whose functions a guest imports.
const ModuleName = "wasmroute_v1"

// Exports a module may provide besides its methods.
const (
	// ExportMemory is the guest's linear memory; required.
	ExportMemory = "memory"
	// ExportInitialize, when exported, runs once per instance before any
	// method, as in the WASI reactor model. Go's c-shared build mode emits it.
	ExportInitialize = "_initialize"
	// ExportStart marks a WASI command (a program with main). It is rejected:
	// a route module must be a reactor.
	ExportStart = "_start"
)

// Methods lists the HTTP methods a module can export, in the order the Allow
// header lists them (alphabetical). Each export has the signature () -> ().
var Methods = [...]string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// A module may also export methods beyond Methods, such as QUERY, PROPFIND,
// MKCOL or M-SEARCH: every function export whose name IsExtraMethod is
// one, with the signature () -> (), served for requests of exactly that
// method and listed in Allow. At most MaxExtraMethods of them; a module
// exporting more fails to load. A function export named like one but with
// another signature is not a method (a load warning names it).
const (
	// MaxExtraMethods is how many methods beyond Methods one module may
	// export: Allow lists them all, and the export count is the guest's.
	MaxExtraMethods = 32
	// MaxMethodLen is the longest method name, in bytes.
	MaxMethodLen = 64
)

// UnservedMethods are never routed to a module, whatever it exports:
// CONNECT has no path to route (its target is host:port), and the Fetch
// standard forbids TRACE and TRACK (they echo credentials back).
var UnservedMethods = [...]string{"CONNECT", "TRACE", "TRACK"}

// IsExtraMethod reports whether an export name is a method beyond Methods:
// an HTTP token (RFC 9110, 9.1 and 5.6.2) of at most MaxMethodLen bytes
// that starts with an uppercase ASCII letter and has no lowercase one, and
// is neither in Methods nor in UnservedMethods. Methods are case-sensitive:
// "query" and "Query" are not methods, "QUERY" is.
func IsExtraMethod(name string) bool {
	if len(name) > MaxMethodLen || !ValidHeaderName(name) || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if 'a' <= name[i] && name[i] <= 'z' {
			return false
		}
	}
	for _, m := range Methods {
		if name == m {
			return false
		}
	}
	for _, m := range UnservedMethods {
		if name == m {
			return false
		}
	}
	return true
}

// Error codes returned as a negative i32 by the functions that can fail. Zero
// means success. A guest can recover from every one of them; out-of-bounds
// memory access is not an error code but a trap.
const (
	// OK: the call succeeded.
	OK int32 = 0
	// ErrInvalid: an argument is not acceptable, e.g. a status outside
	// 200..999, a header name that is not an HTTP token, or a header value
	// with a control character other than tab (CR, LF and NUL among them).
	// When a call is both invalid and too late, ErrInvalid wins.
	ErrInvalid int32 = -1
	// ErrHeadersSent: the status or a header was changed after the body
	// started (the first body_write or flush sends the head).
	ErrHeadersSent int32 = -2
	// ErrBodyNotAllowed: a body was written for a status that has none (1xx,
	// 204, 304). HEAD requests are not an error: their body is dropped.
	ErrBodyNotAllowed int32 = -3
	// ErrTooLarge: a size limit was reached, e.g. the request body is longer
	// than the route's body limit (the client then gets 413 if nothing was
	// sent yet), the response grew past the response limit, or the response
	// headers would grow past the host's limit on their number or size.
	ErrTooLarge int32 = -4
	// ErrClosed: the client is gone, or the response could not be written
	// (e.g. more bytes than a Content-Length the guest declared); nothing
	// more can be read or written.
	ErrClosed int32 = -5

	// The codes below are returned only by the outbound HTTP (fetch_*) and
	// key-value (kv_*) functions. After any of them, error_message gives
	// the host's explanation, e.g. the allow-list entry to add.

	// ErrDenied: the destination is not allowed: no entry of the route's
	// allowedOutboundHosts matches the URL (or a redirect's), or the
	// address dialled is one the host refuses (loopback, private, link-local
	// and the like, unless an entry names that IP literal).
	ErrDenied int32 = -6
	// ErrLimit: a count limit was reached: maxFetches calls in this request,
	// or the namespace's limit on keys.
	ErrLimit int32 = -7
	// ErrPending: a non-blocking call has nothing yet (a fetch's head or
	// body bytes not arrived, fetch_poll's timeout passed with no handle
	// ready). Try again after fetch_poll.
	ErrPending int32 = -8
	// ErrFailed: the outside service failed: a connection refused or reset,
	// a DNS error, the request's time running out, a redirect past 10 hops,
	// the key-value store unavailable.
	ErrFailed int32 = -9
	// ErrNotFound: kv_get found no such key (or it expired).
	ErrNotFound int32 = -10
)

// Host functions, in the order ABI.md documents them. Each constant is the
// import name; the comment gives its WebAssembly signature.
const (
	// FuncMethod writes the request method, e.g. "GET".
	//
	//	method(buf i32, buf_len i32) -> (len i32)
	FuncMethod = "method"

	// FuncPath writes the request path as the client sent it, escaped, e.g.
	// "/blog/hello%20world". It never contains the query.
	//
	//	path(buf i32, buf_len i32) -> (len i32)
	FuncPath = "path"

	// FuncQuery writes the raw query without '?', e.g. "a=1&tag=x&tag=y", or
	// nothing when there is none.
	//
	//	query(buf i32, buf_len i32) -> (len i32)
	FuncQuery = "query"

	// FuncProtocol writes the protocol, e.g. "HTTP/1.1" or "HTTP/2.0".
	//
	//	protocol(buf i32, buf_len i32) -> (len i32)
	FuncProtocol = "protocol"

	// FuncRemoteAddr writes the client's address as "ip:port".
	//
	//	remote_addr(buf i32, buf_len i32) -> (len i32)
	FuncRemoteAddr = "remote_addr"

	// FuncHeaderNames writes the list of request header names, lowercase,
	// sorted, each once. "host" is included when the request has a host.
	//
	//	header_names(buf i32, buf_len i32) -> (len i32)
	FuncHeaderNames = "header_names"

	// FuncHeaderValues writes the list of values of the request header
	// named by (name, name_len), matched case-insensitively, in the order
	// received. An absent header gives an empty list.
	//
	//	header_values(name i32, name_len i32, buf i32, buf_len i32) -> (len i32)
	FuncHeaderValues = "header_values"

	// FuncParamNames writes the list of the route's param names in path
	// order, e.g. ["slug"] for app/blog/[slug].
	//
	//	param_names(buf i32, buf_len i32) -> (len i32)
	FuncParamNames = "param_names"

	// FuncParamValues writes the list of values of the route param named by
	// (name, name_len), decoded: one item for [x], one per segment for
	// [...x] and [[...x]] (none when an optional catch-all matched nothing),
	// and an empty list for a name the route does not have.
	//
	// Each item is one path segment percent-decoded once and not checked: it
	// is never empty, but it may be "." or ".." (sent as %2e, %2E%2E), hold
	// '/' (%2F), '\' (%5C), NUL (%00) or bytes that are not UTF-8 (%FF). A
	// guest must check items before making a path, a key or a URL of them
	// (ABI.md, "Route params").
	//
	//	param_values(name i32, name_len i32, buf i32, buf_len i32) -> (len i32)
	FuncParamValues = "param_values"

	// FuncBodyRead reads the next bytes of the request body into buf and
	// returns how many it wrote (only buf[0:n] is defined afterwards), at most buf_len (and at most 2^31-1, so the
	// count stays positive). It returns 0 only at the end of the body (or
	// when buf_len is 0), or ErrTooLarge / ErrClosed.
	//
	//	body_read(buf i32, buf_len i32) -> (n_or_err i32)
	FuncBodyRead = "body_read"

	// FuncSetStatus sets the response status (default 200). ErrInvalid
	// outside 200..999 (informational 1xx statuses are not supported);
	// ErrHeadersSent after the body started.
	//
	//	set_status(code i32) -> (err i32)
	FuncSetStatus = "set_status"

	// FuncHeaderSet replaces the response header (name, name_len) with the
	// single value (value, value_len). ErrInvalid for a bad name or value;
	// ErrHeadersSent after the body started; ErrTooLarge, changing nothing,
	// when the response headers would then exceed the host's limit on the
	// number of header values or on their size (the sum of len(name) +
	// len(value) over the values), a limit the host may leave unset. Errors
	// take precedence in that order.
	//
	//	header_set(name i32, name_len i32, value i32, value_len i32) -> (err i32)
	FuncHeaderSet = "header_set"

	// FuncHeaderAdd appends a value to the response header (name, name_len),
	// so that e.g. several Set-Cookie headers all reach the client. Errors as
	// for FuncHeaderSet.
	//
	//	header_add(name i32, name_len i32, value i32, value_len i32) -> (err i32)
	FuncHeaderAdd = "header_add"

	// FuncHeaderDel removes the response header (name, name_len). Errors as
	// for FuncHeaderSet, but never ErrTooLarge: a deletion gives its values'
	// room back under the header limits.
	//
	//	header_del(name i32, name_len i32) -> (err i32)
	FuncHeaderDel = "header_del"

	// FuncBodyWrite appends (buf, buf_len) to the response body. The first
	// write, even of zero bytes, sends the status and headers; a refused
	// write writes nothing and does not send them. ErrBodyNotAllowed for a status
	// without a body, ErrTooLarge past the response limit, ErrClosed when the
	// client is gone.
	//
	//	body_write(buf i32, buf_len i32) -> (err i32)
	FuncBodyWrite = "body_write"

	// FuncFlush sends what was written so far to the client now (sending the
	// head first if needed), e.g. one server-sent event. ErrClosed when the
	// client is gone.
	//
	//	flush() -> (err i32)
	FuncFlush = "flush"

	// FuncErrorMessage writes the explanation of the last error a fetch_*,
	// kv_* or cache_revalidate call returned in this request, e.g. `fetch https://api.example.com/x:
	// denied: add "https://api.example.com" to allowedOutboundHosts`; empty
	// when none did. A getter.
	//
	//	error_message(buf i32, buf_len i32) -> (len i32)
	FuncErrorMessage = "error_message"

	// FuncFetchStart starts an outbound HTTP request and returns its handle
	// (> 0) without waiting for anything. req is a list: the method, the
	// absolute http or https URL, then header names and values alternately.
	// (body, body_len) is the request body, sent whole. flags selects the
	// redirect mode: 0 follow (up to 10 hops, each checked again), 1 manual
	// (a 3xx is the response), 2 error (a redirect fails with ErrFailed).
	// ErrInvalid for a malformed request (CONNECT, TRACE, TRACK and URLs
	// with userinfo included), ErrDenied when the URL is not allowed,
	// ErrLimit past maxFetches. Requests past maxFetchConcurrency wait in
	// line for a free slot.
	//
	//	fetch_start(req i32, req_len i32, body i32, body_len i32, flags i32) -> (handle_or_err i32)
	FuncFetchStart = "fetch_start"

	// FuncFetchPoll waits until one of the count handles at handles (each a
	// u32, little-endian) is ready: its fetch_head, or once the head is
	// taken its fetch_body_read, would not return ErrPending. It returns the
	// index of the first ready handle, or ErrPending once timeout_ms passed
	// (0: no wait; negative: no timeout; count 0 with a timeout is a sleep). ErrInvalid for an
	// unknown handle, a count above 1024 or count 0 without a timeout.
	//
	//	fetch_poll(handles i32, count i32, timeout_ms i32) -> (index_or_err i32)
	FuncFetchPoll = "fetch_poll"

	// FuncFetchHead writes the response head of handle as a list: the
	// status (decimal text), the final URL, then header names (lowercase)
	// and values alternately, names sorted, each name's values in the
	// order received. A getter, except that it returns ErrPending before
	// the head arrived, and the fetch's error when it failed: ErrDenied,
	// ErrFailed. ErrInvalid for an unknown handle.
	//
	//	fetch_head(handle i32, buf i32, buf_len i32) -> (len_or_err i32)
	FuncFetchHead = "fetch_head"

	// FuncFetchBodyRead reads the next bytes of handle's response body, as
	// body_read does: n > 0 bytes, 0 at the end, ErrPending when none has
	// arrived yet, ErrTooLarge past maxFetchBody, ErrFailed when the
	// transfer failed, ErrInvalid for an unknown handle or before the head
	// arrived.
	//
	//	fetch_body_read(handle i32, buf i32, buf_len i32) -> (n_or_err i32)
	FuncFetchBodyRead = "fetch_body_read"

	// FuncFetchClose ends handle's fetch, cancelling it if it still runs,
	// and frees the handle. ErrInvalid for an unknown handle. Every handle
	// is closed when the request ends.
	//
	//	fetch_close(handle i32) -> (err i32)
	FuncFetchClose = "fetch_close"

	// FuncKVGet writes the value of key (key, key_len) in the project's (or
	// tenant's) key-value namespace. A getter, except that it returns
	// ErrNotFound for a missing or expired key; the value is kept, so the
	// second call with a larger buffer gets the same one. ErrInvalid for a
	// bad key (empty, over 512 bytes, not UTF-8), ErrFailed when the store
	// fails.
	//
	//	kv_get(key i32, key_len i32, buf i32, buf_len i32) -> (len_or_err i32)
	FuncKVGet = "kv_get"

	// FuncKVSet sets key to value, expiring after ttl_seconds (0: never).
	// ErrInvalid for a bad key, ErrTooLarge for a value over maxKVValue,
	// ErrLimit when a new key would take the namespace past maxKVKeys,
	// ErrFailed when the store fails. Once it returns OK the write is
	// durable.
	//
	//	kv_set(key i32, key_len i32, value i32, value_len i32, ttl_seconds i32) -> (err i32)
	FuncKVSet = "kv_set"

	// FuncKVDelete deletes key; deleting a missing key is OK.
	//
	//	kv_delete(key i32, key_len i32) -> (err i32)
	FuncKVDelete = "kv_delete"

	// FuncKVList writes the list of the namespace's keys that start with
	// (prefix, prefix_len), sorted bytewise, expired keys left out. A
	// getter; the list is kept for the second call.
	//
	//	kv_list(prefix i32, prefix_len i32, buf i32, buf_len i32) -> (len_or_err i32)
	FuncKVList = "kv_list"

	// FuncKVIncr adds an amount to the integer stored at key, atomically
	// across requests and replicas, and returns the new value: inout holds
	// 8 bytes, a little-endian i64, the amount on the call and the new
	// value on return. A missing key counts as 0; the value is stored as
	// decimal text and keeps its expiry. ErrInvalid when the value is not a
	// decimal i64 or the sum overflows; ErrLimit, ErrFailed as for kv_set.
	//
	//	kv_incr(key i32, key_len i32, inout i32) -> (err i32)
	FuncKVIncr = "kv_incr"

	// FuncCacheRevalidate drops the project's cached answers (the GET
	// answers of routes that set revalidate or dynamic "force-static") for
	// the path (path, path_len): every query and variant of it, or, when
	// the path is a route's pattern such as "/blog/[slug]", every answer of
	// that route. The next request runs the handler. Next.js'
	// revalidatePath. OK also when nothing was cached; ErrInvalid for a
	// path that does not start with "/", has a query, or is over 8 KiB.
	//
	//	cache_revalidate(path i32, path_len i32) -> (err i32)
	FuncCacheRevalidate = "cache_revalidate"

	// FuncRespond is a whole simple response in one call: set_status
	// (unless status is 0), then header_set for each name and value of the
	// list (headers, headers_len), which alternates names and values, then
	// body_write of (body, body_len) unless body_len is 0 (an empty body
	// sends nothing: the head goes out when the guest writes, flushes or
	// returns). It changes nothing and returns the first error those calls
	// would return (in that order; ErrInvalid also for a malformed list, an
	// odd number of items, or a name twice, ignoring case) except ErrClosed,
	// which comes from the write itself. ErrTooLarge for the headers is
	// counted on the headers as they would be after the whole list. Added
	// in version 1 to save a guest's host calls; older hosts do not have it.
	//
	//	respond(status i32, headers i32, headers_len i32, body i32, body_len i32) -> (err i32)
	FuncRespond = "respond"
)

// Funcs lists every host function of ModuleName with its signature, in the
// order above. Parameters and results are all i32.
var Funcs = [...]Func{
	{FuncMethod, 2, 1},
	{FuncPath, 2, 1},
	{FuncQuery, 2, 1},
	{FuncProtocol, 2, 1},
	{FuncRemoteAddr, 2, 1},
	{FuncHeaderNames, 2, 1},
	{FuncHeaderValues, 4, 1},
	{FuncParamNames, 2, 1},
	{FuncParamValues, 4, 1},
	{FuncBodyRead, 2, 1},
	{FuncSetStatus, 1, 1},
	{FuncHeaderSet, 4, 1},
	{FuncHeaderAdd, 4, 1},
	{FuncHeaderDel, 2, 1},
	{FuncBodyWrite, 2, 1},
	{FuncFlush, 0, 1},
	{FuncErrorMessage, 2, 1},
	{FuncFetchStart, 5, 1},
	{FuncFetchPoll, 3, 1},
	{FuncFetchHead, 3, 1},
	{FuncFetchBodyRead, 3, 1},
	{FuncFetchClose, 1, 1},
	{FuncKVGet, 4, 1},
	{FuncKVSet, 5, 1},
	{FuncKVDelete, 2, 1},
	{FuncKVList, 4, 1},
	{FuncKVIncr, 3, 1},
	{FuncCacheRevalidate, 2, 1},
	{FuncRespond, 5, 1},
}

// Func describes one host function: its import name and how many i32
// parameters and results it has.
type Func struct {
	Name    string
	Params  int
	Results int
}

// AppendItem appends one list item (a 4-byte little-endian length, then the
// bytes) to list and returns the extended list.
func AppendItem(list []byte, item string) []byte {
	n := uint32(len(item))
	list = append(list, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	return append(list, item...)
}

// NextItem splits the first item off list. It returns ok false when list is
// empty or malformed (a length running past the end).
func NextItem(list []byte) (item, rest []byte, ok bool) {
	if len(list) < 4 {
		return nil, nil, false
	}
	n := uint64(list[0]) | uint64(list[1])<<8 | uint64(list[2])<<16 | uint64(list[3])<<24
	if n > uint64(len(list)-4) {
		return nil, nil, false
	}
	return list[4 : 4+n], list[4+n:], true
}

// ValidHeaderName reports whether name is acceptable to header_set,
// header_add and header_del: a non-empty HTTP token (RFC 9110, 5.6.2), as
// golang.org/x/net/http/httpguts.ValidHeaderFieldName checks.
func ValidHeaderName[T ~string | ~[]byte](name T) bool {
	if len(name) == 0 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether value is acceptable to header_set and
// header_add: no control character other than horizontal tab (so no CR, LF
// or NUL) and no DEL.
func ValidHeaderValue[T ~string | ~[]byte](value T) bool {
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
