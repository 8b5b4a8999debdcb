//go:build wasip1

package route

// This file is the raw import layer: one //go:wasmimport per function of the
// wasmroute_v1 host module (see package abi), each wrapped in a function that
// takes Go slices and strings instead of (pointer, length) pairs. Everything
// above it is shared with the native stand-in in host_other.go.

import "unsafe"

// bytesPtr returns the address of b's first byte (nil for an empty b; the
// host accepts any pointer with a zero length).
func bytesPtr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func stringPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

//go:wasmimport wasmroute_v1 method
func wasmMethod(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 path
func wasmPath(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 query
func wasmQuery(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 protocol
func wasmProtocol(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 remote_addr
func wasmRemoteAddr(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 header_names
func wasmHeaderNames(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 header_values
func wasmHeaderValues(name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 param_names
func wasmParamNames(buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 param_values
func wasmParamValues(name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, bufLen uint32) uint32

//go:wasmimport wasmroute_v1 body_read
func wasmBodyRead(buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport wasmroute_v1 set_status
func wasmSetStatus(code int32) int32

//go:wasmimport wasmroute_v1 header_set
func wasmHeaderSet(name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32) int32

//go:wasmimport wasmroute_v1 header_add
func wasmHeaderAdd(name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32) int32

//go:wasmimport wasmroute_v1 header_del
func wasmHeaderDel(name unsafe.Pointer, nameLen uint32) int32

//go:wasmimport wasmroute_v1 body_write
func wasmBodyWrite(buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport wasmroute_v1 flush
func wasmFlush() int32

//go:wasmimport wasmroute_v1 respond
func wasmRespond(status int32, headers unsafe.Pointer, headersLen uint32, body unsafe.Pointer, bodyLen uint32) int32

func hostMethod(buf []byte) uint32     { return wasmMethod(bytesPtr(buf), uint32(len(buf))) }
func hostPath(buf []byte) uint32       { return wasmPath(bytesPtr(buf), uint32(len(buf))) }
func hostQuery(buf []byte) uint32      { return wasmQuery(bytesPtr(buf), uint32(len(buf))) }
func hostProtocol(buf []byte) uint32   { return wasmProtocol(bytesPtr(buf), uint32(len(buf))) }
func hostRemoteAddr(buf []byte) uint32 { return wasmRemoteAddr(bytesPtr(buf), uint32(len(buf))) }
func hostHeaderNames(buf []byte) uint32 {
	return wasmHeaderNames(bytesPtr(buf), uint32(len(buf)))
}

func hostHeaderValues(name string, buf []byte) uint32 {
	return wasmHeaderValues(stringPtr(name), uint32(len(name)), bytesPtr(buf), uint32(len(buf)))
}

func hostParamNames(buf []byte) uint32 { return wasmParamNames(bytesPtr(buf), uint32(len(buf))) }

func hostParamValues(name string, buf []byte) uint32 {
	return wasmParamValues(stringPtr(name), uint32(len(name)), bytesPtr(buf), uint32(len(buf)))
}

func hostBodyRead(buf []byte) int32  { return wasmBodyRead(bytesPtr(buf), uint32(len(buf))) }
func hostSetStatus(code int32) int32 { return wasmSetStatus(code) }

func hostHeaderSet(name, value string) int32 {
	return wasmHeaderSet(stringPtr(name), uint32(len(name)), stringPtr(value), uint32(len(value)))
}

func hostHeaderAdd(name, value string) int32 {
	return wasmHeaderAdd(stringPtr(name), uint32(len(name)), stringPtr(value), uint32(len(value)))
}

func hostHeaderDel(name string) int32 { return wasmHeaderDel(stringPtr(name), uint32(len(name))) }
func hostBodyWrite(buf []byte) int32  { return wasmBodyWrite(bytesPtr(buf), uint32(len(buf))) }
func hostFlush() int32                { return wasmFlush() }

func hostRespond(status int32, headers, body []byte) int32 {
	return wasmRespond(status, bytesPtr(headers), uint32(len(headers)), bytesPtr(body), uint32(len(body)))
}
