//go:build wasip1

package hostcall

import "unsafe"

func bytesPtr(b []byte) unsafe.Pointer  { return unsafe.Pointer(unsafe.SliceData(b)) }
func stringPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

//go:wasmimport wasmroute_v1 error_message
func wasmErrorMessage(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 fetch_start
func wasmFetchStart(req unsafe.Pointer, reqLen uint32, body unsafe.Pointer, bodyLen uint32, flags int32) int32

//go:wasmimport wasmroute_v1 fetch_poll
func wasmFetchPoll(handles unsafe.Pointer, count uint32, timeoutMs int32) int32

//go:wasmimport wasmroute_v1 fetch_head
func wasmFetchHead(handle int32, buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport wasmroute_v1 fetch_body_read
func wasmFetchBodyRead(handle int32, buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport wasmroute_v1 fetch_close
func wasmFetchClose(handle int32) int32

//go:wasmimport wasmroute_v1 kv_get
func wasmKVGet(key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport wasmroute_v1 kv_set
func wasmKVSet(key unsafe.Pointer, keyLen uint32, value unsafe.Pointer, valueLen uint32, ttlSeconds int32) int32

//go:wasmimport wasmroute_v1 kv_delete
func wasmKVDelete(key unsafe.Pointer, keyLen uint32) int32

//go:wasmimport wasmroute_v1 kv_list
func wasmKVList(prefix unsafe.Pointer, prefixLen uint32, buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport wasmroute_v1 kv_incr
func wasmKVIncr(key unsafe.Pointer, keyLen uint32, inout unsafe.Pointer) int32

//go:wasmimport wasmroute_v1 cache_revalidate
func wasmCacheRevalidate(path unsafe.Pointer, pathLen uint32) int32

// CacheRevalidate calls abi.FuncCacheRevalidate.
func CacheRevalidate(path string) int32 {
	return wasmCacheRevalidate(stringPtr(path), uint32(len(path)))
}

// ErrorMessage calls abi.FuncErrorMessage.
func ErrorMessage(buf []byte) uint32 { return wasmErrorMessage(bytesPtr(buf), uint32(len(buf))) }

// FetchStart calls abi.FuncFetchStart.
func FetchStart(req, body []byte, flags int32) int32 {
	return wasmFetchStart(bytesPtr(req), uint32(len(req)), bytesPtr(body), uint32(len(body)), flags)
}

// FetchPoll calls abi.FuncFetchPoll. A []uint32 is the list of
// little-endian u32s it takes, since WebAssembly is little-endian.
func FetchPoll(handles []uint32, timeoutMs int32) int32 {
	return wasmFetchPoll(unsafe.Pointer(unsafe.SliceData(handles)), uint32(len(handles)), timeoutMs)
}

// FetchHead calls abi.FuncFetchHead.
func FetchHead(handle int32, buf []byte) int32 {
	return wasmFetchHead(handle, bytesPtr(buf), uint32(len(buf)))
}

// FetchBodyRead calls abi.FuncFetchBodyRead.
func FetchBodyRead(handle int32, buf []byte) int32 {
	return wasmFetchBodyRead(handle, bytesPtr(buf), uint32(len(buf)))
}

// FetchClose calls abi.FuncFetchClose.
func FetchClose(handle int32) int32 { return wasmFetchClose(handle) }

// KVGet calls abi.FuncKVGet.
func KVGet(key string, buf []byte) int32 {
	return wasmKVGet(stringPtr(key), uint32(len(key)), bytesPtr(buf), uint32(len(buf)))
}

// KVSet calls abi.FuncKVSet.
func KVSet(key string, value []byte, ttlSeconds int32) int32 {
	return wasmKVSet(stringPtr(key), uint32(len(key)), bytesPtr(value), uint32(len(value)), ttlSeconds)
}

// KVDelete calls abi.FuncKVDelete.
func KVDelete(key string) int32 { return wasmKVDelete(stringPtr(key), uint32(len(key))) }

// KVList calls abi.FuncKVList.
func KVList(prefix string, buf []byte) int32 {
	return wasmKVList(stringPtr(prefix), uint32(len(prefix)), bytesPtr(buf), uint32(len(buf)))
}

// KVIncr calls abi.FuncKVIncr with *inout as its 8-byte little-endian i64
// (WebAssembly is little-endian): the amount on the call, the new value on
// return.
func KVIncr(key string, inout *int64) int32 {
	return wasmKVIncr(stringPtr(key), uint32(len(key)), unsafe.Pointer(inout))
}

// shared is Get's buffer, kept from call to call so that a value costs one
// allocation of its own size: the guest has one thread, and no other Get
// runs between a getter's call and the copy. A buffer grown past 64 KiB
// for a large value is not kept.
var shared = make([]byte, 256)

func scratch() []byte { return shared }

func keep(buf []byte) {
	if len(buf) <= 64<<10 {
		shared = buf
	}
}
