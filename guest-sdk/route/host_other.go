//go:build !wasip1

package route

// This file is the native stand-in for host_wasip1.go: the same functions,
// answered by the in-memory host in internal/standin that package routetest
// drives. Outside routetest.Run there is no request: getters return empty
// values and writes fail with ErrClosed.

import "github.com/wasmroute/wasmroute/guest-sdk/route/internal/standin"

func hostMethod(buf []byte) uint32                    { return standin.Method(buf) }
func hostPath(buf []byte) uint32                      { return standin.Path(buf) }
func hostQuery(buf []byte) uint32                     { return standin.Query(buf) }
func hostProtocol(buf []byte) uint32                  { return standin.Protocol(buf) }
func hostRemoteAddr(buf []byte) uint32                { return standin.RemoteAddr(buf) }
func hostHeaderNames(buf []byte) uint32               { return standin.HeaderNames(buf) }
func hostHeaderValues(name string, buf []byte) uint32 { return standin.HeaderValues(name, buf) }
func hostParamNames(buf []byte) uint32                { return standin.ParamNames(buf) }
func hostParamValues(name string, buf []byte) uint32  { return standin.ParamValues(name, buf) }
func hostBodyRead(buf []byte) int32                   { return standin.BodyRead(buf) }
func hostSetStatus(code int32) int32                  { return standin.SetStatus(code) }
func hostHeaderSet(name, value string) int32          { return standin.HeaderSet(name, value) }
func hostHeaderAdd(name, value string) int32          { return standin.HeaderAdd(name, value) }
func hostHeaderDel(name string) int32                 { return standin.HeaderDel(name) }
func hostBodyWrite(buf []byte) int32                  { return standin.BodyWrite(buf) }
func hostFlush() int32                                { return standin.Flush() }
func hostRespond(status int32, headers, body []byte) int32 {
	return standin.Respond(status, headers, body)
}
