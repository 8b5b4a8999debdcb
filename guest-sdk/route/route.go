package route

import (
	"errors"
	"strconv"

	"github.com/wasmroute/wasmroute/abi"
)

// Handler answers one request: it reads what it needs from r and writes the
// response to w. The response ends when the Handler returns. A Handler that
// panics fails the request: the client gets 500 and the instance is
// discarded.
type Handler func(w *Response, r *Request)

// Serve runs h for the request the host is currently delivering. Call it from
// each exported method function, once per call:
//
//	//go:wasmexport GET
//	func get() { route.Serve(hello) }
//
// Off wasip1, Serve reads the request from and writes the response to the
// in-memory stand-in that routetest.Run sets up; outside Run there is no
// request: getters return empty values and writes fail with ErrClosed.
//
// Serve is not safe for concurrent use; the host never calls an instance
// concurrently.
func Serve(h Handler) {
	r := &Request{buf: spare}
	spare = nil
	h(&Response{req: r}, r)
	spare = r.buf
}

// spare is the getter buffer, kept from one request to the next so that an
// instance grows it once to the largest value it has seen.
var spare []byte

// Errors the host reports, one per negative code of package abi. Each can be
// recovered from; compare with errors.Is, since some are wrapped with the
// argument at fault.
var (
	// ErrInvalid reports an argument the host refused: a status outside
	// 200..999, a header name that is not an HTTP token, a header value with
	// a control character other than tab (such as CR, LF or NUL), a
	// cookie that cannot be written, or a malformed FetchRequest.
	ErrInvalid = errors.New("route: invalid argument")
	// ErrHeadersSent reports a change to the status or headers after the
	// body started (the first non-empty Write or the first Flush sends them).
	ErrHeadersSent = errors.New("route: headers already sent")
	// ErrBodyNotAllowed reports a body written for a status that has none
	// (204, 304).
	ErrBodyNotAllowed = errors.New("route: status does not allow a body")
	// ErrTooLarge reports a size limit reached: the request body is longer
	// than the route's body limit, the response grew past its limit, or a
	// fetched response body past the route's maxFetchBody.
	ErrTooLarge = errors.New("route: size limit reached")
	// ErrClosed reports that the client is gone: nothing more can be read
	// or written.
	ErrClosed = errors.New("route: client closed the connection")
)

// codeError maps a host result to nil or one of the Err values.
func codeError(code int32) error {
	switch code {
	case abi.OK:
		return nil
	case abi.ErrInvalid:
		return ErrInvalid
	case abi.ErrHeadersSent:
		return ErrHeadersSent
	case abi.ErrBodyNotAllowed:
		return ErrBodyNotAllowed
	case abi.ErrTooLarge:
		return ErrTooLarge
	case abi.ErrClosed:
		return ErrClosed
	}
	return errors.New("route: unknown host error code " + strconv.Itoa(int(code)))
}

// argError is an ErrInvalid naming what was refused.
type argError struct {
	what, arg string
}

func (e *argError) Error() string { return "route: invalid " + e.what + " " + strconv.Quote(e.arg) }
func (e *argError) Unwrap() error { return ErrInvalid }

// wrapArg names the argument at fault when err is ErrInvalid.
func wrapArg(err error, what, arg string) error {
	if err == ErrInvalid {
		return &argError{what, arg}
	}
	return err
}
