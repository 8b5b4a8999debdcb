//go:build !wasip1

package hostcall

// The native stand-in for hostcall_wasip1.go: the same functions, answered
// by the in-memory host in internal/standin that package routetest drives.

import (
	"encoding/binary"

	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/standin"
)

// CacheRevalidate calls abi.FuncCacheRevalidate.
func CacheRevalidate(path string) int32 { return standin.CacheRevalidate(path) }

// ErrorMessage calls abi.FuncErrorMessage.
func ErrorMessage(buf []byte) uint32 { return standin.ErrorMessage(buf) }

// FetchStart calls abi.FuncFetchStart.
func FetchStart(req, body []byte, flags int32) int32 { return standin.FetchStart(req, body, flags) }

// FetchPoll calls abi.FuncFetchPoll.
func FetchPoll(handles []uint32, timeoutMs int32) int32 {
	return standin.FetchPoll(handles, timeoutMs)
}

// FetchHead calls abi.FuncFetchHead.
func FetchHead(handle int32, buf []byte) int32 { return standin.FetchHead(handle, buf) }

// FetchBodyRead calls abi.FuncFetchBodyRead.
func FetchBodyRead(handle int32, buf []byte) int32 { return standin.FetchBodyRead(handle, buf) }

// FetchClose calls abi.FuncFetchClose.
func FetchClose(handle int32) int32 { return standin.FetchClose(handle) }

// KVGet calls abi.FuncKVGet.
func KVGet(key string, buf []byte) int32 { return standin.KVGet(key, buf) }

// KVSet calls abi.FuncKVSet.
func KVSet(key string, value []byte, ttlSeconds int32) int32 {
	return standin.KVSet(key, value, ttlSeconds)
}

// KVDelete calls abi.FuncKVDelete.
func KVDelete(key string) int32 { return standin.KVDelete(key) }

// KVList calls abi.FuncKVList.
func KVList(prefix string, buf []byte) int32 { return standin.KVList(prefix, buf) }

// KVIncr calls abi.FuncKVIncr with *inout as its 8-byte little-endian i64.
func KVIncr(key string, inout *int64) int32 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(*inout))
	code := standin.KVIncr(key, b[:])
	*inout = int64(binary.LittleEndian.Uint64(b[:]))
	return code
}

// Natively, handlers under test may run in parallel goroutines: Get gets a
// buffer of its own each call.
func scratch() []byte { return make([]byte, 256) }

func keep([]byte) {}
