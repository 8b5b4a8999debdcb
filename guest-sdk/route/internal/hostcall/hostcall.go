// Package hostcall is the raw import layer of the wasmroute_v1 service
// functions: error_message, outbound HTTP (fetch_*) and the key-value store
// (kv_*), shared by package route (Fetch) and package route/kv. Each
// function takes Go slices and strings instead of (pointer, length) pairs.
//
// Built for wasip1 they are //go:wasmimport functions (hostcall_wasip1.go);
// elsewhere they are answered by the native stand-in, package standin
// (hostcall_other.go). The request and response functions stay in package
// route's own host_wasip1.go. The Go linker drops the imports a guest does
// not call, so a route that never fetches imports no fetch_* function.
package hostcall

import (
	"bytes"

	"github.com/wasmroute/wasmroute/abi"
)

// Error is the error a fetch_* or kv_* call returned: Err is the package's
// sentinel for the code, which errors.Is matches, and Msg the host's
// explanation (error_message). It is safe for concurrent use.
type Error struct {
	Err error
	Msg string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Explain returns sentinel as an *Error explained by the host's
// error_message, which must be read before the next fetch_* or kv_* call.
// When the host gave no message, the message is what + ": " + sentinel's.
func Explain(sentinel error, what string) error {
	msg, _ := Get(func(buf []byte) int32 { return int32(ErrorMessage(buf)) })
	if len(msg) == 0 {
		return &Error{sentinel, what + ": " + sentinel.Error()}
	}
	return &Error{sentinel, string(msg)}
}

// Get calls get, a getter that may fail, with a buffer until the value fits,
// and returns the value, a slice of its own, or the negative code get
// returned.
func Get(get func(buf []byte) int32) ([]byte, int32) {
	return GetKeyed("", func(_ string, buf []byte) int32 { return get(buf) })
}

// GetKeyed is Get for a getter of a key, such as KVGet: a function that
// needs no closure, so that a call allocates nothing but the value.
func GetKeyed(key string, get func(key string, buf []byte) int32) ([]byte, int32) {
	buf := scratch()
	for {
		n := get(key, buf)
		switch {
		case n < 0:
			return nil, n
		case int(n) <= len(buf):
			v := bytes.Clone(buf[:n])
			keep(buf)
			return v, abi.OK
		}
		buf = make([]byte, n)
	}
}
