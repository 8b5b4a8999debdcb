//go:build wasip1

// badptr attempts to make the host read or write outside the guest's memory:
// GET calls the host function named by ?fn= with one (pointer, length) pair
// out of bounds — ?mode=huge: 0xFFFFFFF0, 0x7FFFFFFF; wrap: 0xFFFFFFF0, 0x20,
// whose end overflows 32 bits — as pair ?arg=1 or 2, the other pair valid.
// For fetch_poll the pair is (handles, 4×count); for fetch_head and
// fetch_body_read, (buf, buf_len) after the handle. kv_incr's second
// "pair" is its inout, a pointer to 8 bytes (wrap: 0xFFFFFFFC); kv_set's
// ttl is not a pointer. A call that returns (a function without a
// pointer) is answered "fn=code".
package main

import (
	"net/url"
	"strconv"
	"unsafe"
)

//go:wasmimport wasmroute_v1 method
func method(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 path
func path(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 query
func query(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 protocol
func protocol(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 remote_addr
func remoteAddr(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 header_names
func headerNames(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 header_values
func headerValues(name, nameLen, buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 param_names
func paramNames(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 param_values
func paramValues(name, nameLen, buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 body_read
func bodyRead(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 set_status
func setStatus(code uint32) int32

//go:wasmimport wasmroute_v1 header_set
func headerSet(name, nameLen, value, valueLen uint32) int32

//go:wasmimport wasmroute_v1 header_add
func headerAdd(name, nameLen, value, valueLen uint32) int32

//go:wasmimport wasmroute_v1 header_del
func headerDel(name, nameLen uint32) int32

//go:wasmimport wasmroute_v1 body_write
func bodyWrite(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 flush
func flush() int32

//go:wasmimport wasmroute_v1 error_message
func errorMessage(buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 fetch_start
func fetchStart(req, reqLen, body, bodyLen, flags uint32) int32

//go:wasmimport wasmroute_v1 fetch_poll
func fetchPoll(handles, count uint32, timeoutMS int32) int32

//go:wasmimport wasmroute_v1 fetch_head
func fetchHead(handle, buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 fetch_body_read
func fetchBodyRead(handle, buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 fetch_close
func fetchClose(handle uint32) int32

//go:wasmimport wasmroute_v1 kv_get
func kvGet(key, keyLen, buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 kv_set
func kvSet(key, keyLen, value, valueLen, ttlSeconds uint32) int32

//go:wasmimport wasmroute_v1 kv_delete
func kvDelete(key, keyLen uint32) int32

//go:wasmimport wasmroute_v1 kv_list
func kvList(prefix, prefixLen, buf, bufLen uint32) int32

//go:wasmimport wasmroute_v1 kv_incr
func kvIncr(key, keyLen, inout uint32) int32

//go:wasmimport wasmroute_v1 cache_revalidate
func cacheRevalidate(path, pathLen uint32) int32

//go:wasmimport wasmroute_v1 respond
func respond(status, headers, headersLen, body, bodyLen uint32) int32

// calls takes two (pointer, length) pairs; each function uses the ones it has.
var calls = map[string]func(p1, n1, p2, n2 uint32) int32{
	"method":        func(p, n, _, _ uint32) int32 { return method(p, n) },
	"path":          func(p, n, _, _ uint32) int32 { return path(p, n) },
	"query":         func(p, n, _, _ uint32) int32 { return query(p, n) },
	"protocol":      func(p, n, _, _ uint32) int32 { return protocol(p, n) },
	"remote_addr":   func(p, n, _, _ uint32) int32 { return remoteAddr(p, n) },
	"header_names":  func(p, n, _, _ uint32) int32 { return headerNames(p, n) },
	"header_values": headerValues,
	"param_names":   func(p, n, _, _ uint32) int32 { return paramNames(p, n) },
	"param_values":  paramValues,
	"body_read":     func(p, n, _, _ uint32) int32 { return bodyRead(p, n) },
	"set_status":    func(p, _, _, _ uint32) int32 { return setStatus(p) },
	"header_set":    headerSet,
	"header_add":    headerAdd,
	"header_del":    func(p, n, _, _ uint32) int32 { return headerDel(p, n) },
	"body_write":    func(p, n, _, _ uint32) int32 { return bodyWrite(p, n) },
	"error_message": func(p, n, _, _ uint32) int32 { return errorMessage(p, n) },
	"flush":         func(_, _, _, _ uint32) int32 { return flush() },
	// The pointer pairs of the fetch functions: fetch_start's request and
	// body; fetch_poll's handles, as many as fit in the pair's length (at
	// most 1024, the count fetch_poll takes, so that the range is what is
	// checked); the buffer of fetch_head and fetch_body_read, whose handle
	// (1) is checked after it. fetch_close takes no pointer.
	"fetch_start":      func(p1, n1, p2, n2 uint32) int32 { return fetchStart(p1, n1, p2, n2, 0) },
	"fetch_poll":       func(p, n, _, _ uint32) int32 { return fetchPoll(p, min(n/4, 1024), 0) },
	"fetch_head":       func(p, n, _, _ uint32) int32 { return fetchHead(1, p, n) },
	"fetch_body_read":  func(p, n, _, _ uint32) int32 { return fetchBodyRead(1, p, n) },
	"fetch_close":      func(p, _, _, _ uint32) int32 { return fetchClose(p) },
	"kv_get":           kvGet,
	"kv_set":           func(p1, n1, p2, n2 uint32) int32 { return kvSet(p1, n1, p2, n2, 60) },
	"kv_delete":        func(p, n, _, _ uint32) int32 { return kvDelete(p, n) },
	"kv_list":          kvList,
	"kv_incr":          func(p1, n1, p2, _ uint32) int32 { return kvIncr(p1, n1, p2) },
	"cache_revalidate": func(p, n, _, _ uint32) int32 { return cacheRevalidate(p, n) },
	// respond's pairs are its header list and its body (status 200).
	"respond": func(p1, n1, p2, n2 uint32) int32 { return respond(200, p1, n1, p2, n2) },
}

// buf is a valid buffer; it starts with "x-test", a valid name and value.
var buf = []byte("x-test" + string(make([]byte, 250)))

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func reply(s string) { bodyWrite(addr([]byte(s)), uint32(len(s))) }

//go:wasmexport GET
func get() {
	n := query(addr(buf), uint32(len(buf)))
	if n < 0 || int(n) > len(buf) {
		setStatus(400)
		reply("query too long")
		return
	}
	q, _ := url.ParseQuery(string(buf[:n]))
	call, ok := calls[q.Get("fn")]
	if !ok {
		setStatus(400)
		reply("unknown fn " + q.Get("fn"))
		return
	}
	badPtr, badLen := uint32(0xFFFFFFF0), uint32(0x7FFFFFFF)
	if q.Get("mode") == "wrap" {
		badLen = 0x20
		if q.Get("fn") == "kv_incr" {
			badPtr = 0xFFFFFFFC // + 8 overflows 32 bits
		}
	}
	copy(buf, "x-test")
	good, goodLen := addr(buf), uint32(6)
	p1, n1, p2, n2 := badPtr, badLen, good, goodLen
	if q.Get("arg") == "2" {
		p1, n1, p2, n2 = good, goodLen, badPtr, badLen
	}
	code := call(p1, n1, p2, n2)
	reply(q.Get("fn") + "=" + strconv.Itoa(int(code)))
}

func main() {}
