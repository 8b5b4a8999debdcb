package route

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasmroute/wasmroute/abi"
)

// Response writes the response to the request being served. The status
// (200 unless set) and headers go out with the first non-empty Write or the
// first Flush; changing them afterwards fails with ErrHeadersSent. The
// response ends when the Handler returns.
//
// A Response is valid only until its Handler returns and is not safe for
// concurrent use. It implements io.Writer and io.StringWriter.
type Response struct {
	contentType bool     // a Content-Type header was set; JSON and Text keep it
	req         *Request // the request served: SetCookie updates its cookies
}

// Status sets the response status code, 200..999 (default 200). It fails
// with ErrInvalid outside that range and with ErrHeadersSent once the body
// started.
func (w *Response) Status(code int) error {
	if code < math.MinInt32 || code > math.MaxInt32 {
		code = 0 // out of int32: let the host refuse it like any bad code
	}
	err := codeError(hostSetStatus(int32(code)))
	if err == ErrInvalid {
		return &argError{"status", strconv.Itoa(code)}
	}
	return err
}

// SetHeader replaces the response header name with the single value value.
// It fails with ErrInvalid when name is not an HTTP token or value holds a
// control character other than tab (such as CR, LF or NUL), and with
// ErrHeadersSent once the body started.
func (w *Response) SetHeader(name, value string) error {
	err := headerError(codeError(hostHeaderSet(name, value)), name, value)
	w.noteHeader(name, err, true)
	return err
}

// AddHeader appends value to the response header name, keeping earlier
// values, so that e.g. several Set-Cookie headers all reach the client.
// Errors as for SetHeader.
func (w *Response) AddHeader(name, value string) error {
	err := headerError(codeError(hostHeaderAdd(name, value)), name, value)
	w.noteHeader(name, err, true)
	return err
}

// DelHeader removes the response header name. Errors as for SetHeader.
func (w *Response) DelHeader(name string) error {
	err := wrapArg(codeError(hostHeaderDel(name)), "header name", name)
	w.noteHeader(name, err, false)
	return err
}

// headerError is wrapArg for a header, building "name: value" only for
// the error: a string built on every call costs a Go guest an allocation.
func headerError(err error, name, value string) error {
	if err == ErrInvalid {
		return &argError{"header", name + ": " + value}
	}
	return err
}

func (w *Response) noteHeader(name string, err error, set bool) {
	if err == nil && strings.EqualFold(name, "Content-Type") {
		w.contentType = set
	}
}

// Write appends p to the response body; the first non-empty Write sends the
// status and headers. It fails with ErrBodyNotAllowed for a status without a
// body (204, 304), ErrTooLarge past the route's response limit and ErrClosed
// when the client is gone, and then writes nothing. A HEAD request's body is
// dropped by the host without error.
func (w *Response) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := codeError(hostBodyWrite(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString is Write for a string, without copying it.
func (w *Response) WriteString(s string) (int, error) {
	// The host only reads the bytes, so s may be passed in place.
	return w.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// Flush sends what was written so far to the client now, sending the status
// and headers first if needed: call it after each server-sent event. It
// fails with ErrClosed when the client is gone.
func (w *Response) Flush() error { return codeError(hostFlush()) }

// JSON writes v as JSON with the given status, like Response.json in
// Next.js: Content-Type application/json (unless one was set), no HTML
// escaping, no trailing newline. When v cannot be encoded it returns the
// encoding error and has changed nothing, so the handler can still answer.
//
// The output is encoding/json's. Maps of strings or of any, slices of them,
// strings, numbers, booleans and nil are written without reflection, which
// in WebAssembly is many times faster; other types (structs) go through
// encoding/json, which builds an encoder per type on first use — under
// request isolation, on every request, unless an init function warms it
// (json.Marshal of a zero value), since init's work is kept in the snapshot.
func (w *Response) JSON(status int, v any) error {
	buf := spareJSON
	spareJSON = nil // taken: a JSON call from another goroutine makes its own
	body, err := marshalJSON(buf, v)
	if err != nil {
		return err
	}
	err = w.send(status, jsonType, body)
	if cap(body) <= maxSpareJSON {
		spareJSON = body[:0] // the host copied it
	}
	return err
}

// spareJSON is JSON's buffer, kept from one call to the next while it
// stays under maxSpareJSON: an allocation less per response, and less for
// the guest's garbage collector, which runs in the request's time.
var spareJSON []byte

const maxSpareJSON = 64 << 10

// marshalJSON encodes v as JSON does, appending to buf: appendJSON when it
// can, else encoding/json without HTML escaping or the trailing newline.
func marshalJSON(buf []byte, v any) ([]byte, error) {
	if buf == nil {
		buf = make([]byte, 0, 256)
	}
	if body, ok := appendJSON(buf[:0], v); ok {
		return body, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// Text writes s with the given status and Content-Type
// "text/plain; charset=utf-8" (unless one was set).
func (w *Response) Text(status int, s string) error {
	return w.send(status, textType, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// mediaType is a Content-Type JSON or Text sets, and the list respond
// (abi.FuncRespond) takes to set it.
type mediaType struct {
	value string
	list  []byte
}

func newMediaType(value string) mediaType {
	return mediaType{value, abi.AppendItem(abi.AppendItem(nil, "Content-Type"), value)}
}

var (
	jsonType = newMediaType("application/json")
	textType = newMediaType("text/plain; charset=utf-8")
)

// send answers status, the Content-Type ct unless one was set, and body: in
// one host call (respond) when it succeeds, since every call into the host
// costs; after a refusal, which changed nothing, again call by call, so that
// the error says what was refused.
func (w *Response) send(status int, ct mediaType, body []byte) error {
	if status >= 200 && status <= 999 {
		var header []byte
		if !w.contentType {
			header = ct.list
		}
		switch hostRespond(int32(status), header, body) {
		case abi.OK:
			w.contentType = true
			return nil
		case abi.ErrClosed: // the head went out; the write failed
			return ErrClosed
		}
	}
	if err := w.Status(status); err != nil {
		return err
	}
	if !w.contentType {
		if err := w.SetHeader("Content-Type", ct.value); err != nil {
			return err
		}
	}
	_, err := w.Write(body)
	return err
}

// Redirect answers 307 Temporary Redirect to url, which may be relative
// ("/login") or absolute: the client repeats the request, method and body
// included, at url. This is redirect() and NextResponse.redirect in Next.js.
// The body stays empty unless the handler writes one.
func (w *Response) Redirect(url string) error { return w.redirect(307, url) }

// PermanentRedirect answers 308 Permanent Redirect to url, like Redirect;
// this is permanentRedirect() in Next.js.
func (w *Response) PermanentRedirect(url string) error { return w.redirect(308, url) }

func (w *Response) redirect(code int, url string) error {
	if err := w.Status(code); err != nil {
		return err
	}
	return w.SetHeader("Location", url)
}

// NotFound sets the status to 404 Not Found, like notFound() in Next.js.
// The body stays empty unless the handler writes one.
func (w *Response) NotFound() error { return w.Status(404) }
