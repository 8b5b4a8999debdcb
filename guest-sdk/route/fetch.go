package route

// Outbound HTTP over the fetch_* host functions (ABI.md, "Outbound HTTP"):
// a small client in net/http's shapes that does not import net/http.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/hostcall"
)

// Errors of outbound requests. Besides these, a request the host finds
// malformed (a method that is not a token, a URL that is not absolute http
// or https, a bad header, an unknown RedirectMode) fails with ErrInvalid,
// and a response body past the route's maxFetchBody with ErrTooLarge.
//
// Each arrives wrapped with the host's explanation, which names the URL (and
// for ErrDenied the allowedOutboundHosts entry that would allow it): test it
// with errors.Is, log or answer its message.
var (
	// ErrDenied reports an outbound request the route may not make: its URL,
	// or a redirect's, matches no entry of the route's allowedOutboundHosts,
	// or its host resolved to an address the host refuses (loopback, private
	// networks, link-local and cloud metadata, unless an entry names that IP
	// literal).
	ErrDenied = errors.New("route: outbound request denied")
	// ErrLimit reports that the request made as many outbound requests as
	// the route's maxFetches allows (default 50).
	ErrLimit = errors.New("route: outbound request limit reached")
	// ErrFetchFailed reports an outbound request that failed outside the
	// guest: a connection refused or reset, a DNS error, the request's time
	// running out, more than 10 redirects, a redirect under RedirectError,
	// or a transfer that broke.
	ErrFetchFailed = errors.New("route: fetch failed")
)

var (
	errFetchClosed = errors.New("route: fetch closed before its response")
	errBodyClosed  = errors.New("route: read on closed response body")
)

// Header is an ordered list of header fields: an outbound request's headers
// (FetchRequest) and its response's (FetchResponse, whose names the host
// gives in lowercase). Names are matched case-insensitively; a nil Header is
// empty. A Header is not safe for concurrent modification.
type Header []HeaderField

// HeaderField is one header line.
type HeaderField struct {
	Name, Value string
}

// Get returns the first value of the header name, or "" when it is absent.
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns every value of the header name in order, or nil when it is
// absent.
func (h Header) Values(name string) []string {
	var vals []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			vals = append(vals, f.Value)
		}
	}
	return vals
}

// Add appends the field name: value, keeping the values name already has.
func (h *Header) Add(name, value string) { *h = append(*h, HeaderField{name, value}) }

// Set replaces the values of name with the single value, in the place of
// the first one (at the end when name is absent).
func (h *Header) Set(name, value string) {
	for i, f := range *h {
		if strings.EqualFold(f.Name, name) {
			(*h)[i].Value = value
			rest := (*h)[i+1:]
			rest.del(name)
			*h = (*h)[:i+1+len(rest)]
			return
		}
	}
	h.Add(name, value)
}

// Del removes every value of name.
func (h *Header) Del(name string) { h.del(name) }

func (h *Header) del(name string) {
	kept := (*h)[:0]
	for _, f := range *h {
		if !strings.EqualFold(f.Name, name) {
			kept = append(kept, f)
		}
	}
	clear((*h)[len(kept):])
	*h = kept
}

// RedirectMode says what an outbound request does when it is answered with
// a redirect (301, 302, 303, 307 or 308 with a Location), as the redirect
// option of the Web's fetch does.
type RedirectMode int32

const (
	// RedirectFollow follows up to 10 redirects, each checked against the
	// route's allowedOutboundHosts again. A 303, or a 301 or 302 answering
	// a POST, continues as a GET without body, and authorization, cookie
	// and proxy-authorization headers are dropped when the origin changes.
	// It is the zero value.
	RedirectFollow RedirectMode = 0
	// RedirectManual makes the redirect itself the response: its Status is
	// 3xx and Header.Get("location") says where it points.
	RedirectManual RedirectMode = 1
	// RedirectError fails a redirected request with ErrFetchFailed.
	RedirectError RedirectMode = 2
)

// FetchRequest is an outbound HTTP request for Fetch or StartFetch. The host
// checks it against the route's allowedOutboundHosts before a byte leaves,
// and frames the body itself: host, connection, content-length,
// transfer-encoding, keep-alive, upgrade, te, trailer and proxy-* headers
// are dropped. Sending a FetchRequest does not change it, so it may be sent
// again; it is not safe for concurrent modification.
type FetchRequest struct {
	Method   string // "" means "GET"
	URL      string // absolute, http or https: "https://api.example.com/v1/items?page=2"
	Header   Header
	Body     []byte // sent whole; nil for none
	Redirect RedirectMode
}

// SetJSON sets the body to v encoded as JSON, as Response.JSON encodes it,
// and the Content-Type header to application/json. When v cannot be encoded
// it returns the error and changes nothing.
func (r *FetchRequest) SetJSON(v any) error {
	body, err := marshalJSON(nil, v)
	if err != nil {
		return err
	}
	r.Body = body
	r.Header.Set("Content-Type", "application/json")
	return nil
}

// FetchResponse is the response to an outbound request: its head (Status,
// URL, Header) has arrived, and Body streams the rest from the host as it is
// read, so that a large response is never held in the guest whole unless
// the handler collects it.
//
// Close it (or read Body to the end) when done: that frees the host's handle
// and stops the transfer. The host closes every handle when the request
// ends. A FetchResponse is not safe for concurrent use.
type FetchResponse struct {
	Status int    // e.g. 200; a 3xx only under RedirectManual
	URL    string // the final URL, after redirects
	Header Header // names in lowercase, in the order received

	// Body streams the response body. Each Read takes what the host has
	// received, written straight into the caller's buffer, and waits for
	// more when nothing has arrived. A body past the route's maxFetchBody
	// fails with ErrTooLarge, a transfer that broke with ErrFetchFailed.
	// The handle is freed when the body ends or is closed.
	Body io.ReadCloser
}

// OK reports whether the status is 2xx, like Response.ok on the Web.
func (r *FetchResponse) OK() bool { return r.Status >= 200 && r.Status <= 299 }

// Close closes the body, freeing the host's handle; a transfer still under
// way is cancelled.
func (r *FetchResponse) Close() error { return r.Body.Close() }

// ReadAll reads the rest of the body, closes it, and returns what it read.
func (r *FetchResponse) ReadAll() ([]byte, error) {
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}

// JSON decodes the body, which must hold exactly one JSON value, into v, as
// json.Unmarshal would, reading it as a stream, and closes it. A status
// outside 2xx is not an error, as with the Web's fetch: check OK first.
func (r *FetchResponse) JSON(v any) error {
	defer r.Body.Close()
	return decodeJSON(r.Body, v, "response body")
}

// PendingFetch is an outbound request under way: StartFetch returns it at
// once, and Response waits for its response. Several started one after the
// other run at the same time. A PendingFetch is not safe for concurrent
// use.
//
// The guest has one thread: a goroutine that waits in Response stops every
// other one until the head arrives. Run requests at the same time by
// starting them all before waiting (FetchAll, WaitAny), not with goroutines.
type PendingFetch struct {
	url    string
	handle int32
	resp   *FetchResponse
	body   *fetchBody
	err    error
	done   bool // resp or err is the outcome
	closed bool // the handle is closed
}

// StartFetch starts req and returns without waiting for anything. It fails
// with ErrInvalid (a malformed request), ErrDenied or ErrLimit; any other
// failure arrives from Response. The host reads req.Body before StartFetch
// returns, so req may be reused at once.
//
// StartFetch, Fetch, Get, PostJSON, FetchAll and WaitAny belong to the
// request being served and are not safe for concurrent use: call them from
// its Handler's goroutine.
func StartFetch(req *FetchRequest) (*PendingFetch, error) {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	list := abi.AppendItem(make([]byte, 0, 64+len(req.URL)), method)
	list = abi.AppendItem(list, req.URL)
	for _, f := range req.Header {
		list = abi.AppendItem(abi.AppendItem(list, f.Name), f.Value)
	}
	h := hostcall.FetchStart(list, req.Body, int32(req.Redirect))
	if h < 0 {
		return nil, fetchError(h, "fetch "+req.URL)
	}
	return &PendingFetch{url: req.URL, handle: h}, nil
}

// Response waits for the response's head and returns the response, its body
// still to read, or the error that ended the fetch: ErrDenied (a redirect to
// a destination not allowed, or an address refused), ErrFetchFailed. Later
// calls return the same.
func (p *PendingFetch) Response() (*FetchResponse, error) {
	if p.done {
		return p.resp, p.err
	}
	for {
		head, code := hostcall.Get(func(buf []byte) int32 { return hostcall.FetchHead(p.handle, buf) })
		if code == abi.ErrPending {
			if code = poll(p.handle); code == abi.OK {
				continue
			}
		}
		if code == abi.OK {
			p.resp, p.err = p.parseHead(head)
		} else {
			p.err = fetchError(code, "fetch "+p.url)
		}
		break
	}
	p.done = true
	if p.err != nil {
		p.close()
	}
	return p.resp, p.err
}

// parseHead decodes fetch_head's list: status, final URL, then names and
// values.
func (p *PendingFetch) parseHead(list []byte) (*FetchResponse, error) {
	var items []string
	for len(list) > 0 {
		item, rest, ok := abi.NextItem(list)
		if !ok {
			break
		}
		items = append(items, string(item))
		list = rest
	}
	if len(items) < 2 || len(items)%2 != 0 {
		return nil, errors.New("route: fetch " + p.url + ": malformed response head from the host")
	}
	status, err := strconv.Atoi(items[0])
	if err != nil {
		return nil, errors.New("route: fetch " + p.url + ": malformed status " + strconv.Quote(items[0]) + " from the host")
	}
	resp := &FetchResponse{Status: status, URL: items[1]}
	if n := (len(items) - 2) / 2; n > 0 {
		resp.Header = make(Header, 0, n)
		for i := 2; i < len(items); i += 2 {
			resp.Header = append(resp.Header, HeaderField{items[i], items[i+1]})
		}
	}
	p.body = &fetchBody{p: p}
	resp.Body = p.body
	return resp, nil
}

// Close cancels the fetch and frees its handle, or closes its response's
// body once Response returned it.
func (p *PendingFetch) Close() error {
	if p.body != nil {
		return p.body.Close()
	}
	if !p.done {
		p.done, p.err = true, errFetchClosed
	}
	return p.close()
}

// close frees the handle once.
func (p *PendingFetch) close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if code := hostcall.FetchClose(p.handle); code != abi.OK {
		return fetchError(code, "fetch "+p.url)
	}
	return nil
}

// poll waits until handle is ready and returns abi.OK or the error code.
func poll(handle int32) int32 {
	handles := [1]uint32{uint32(handle)}
	if code := hostcall.FetchPoll(handles[:], -1); code < 0 {
		return code
	}
	return abi.OK
}

// WaitAny waits until the response of one of ps has arrived or its fetch
// failed, so that its Response would not wait, and returns its index: the
// lowest when several are. A fetch whose Response has returned, or that was
// closed, counts at once. It fails with ErrInvalid when ps is empty.
func WaitAny(ps ...*PendingFetch) (int, error) {
	if len(ps) == 0 {
		return -1, fmt.Errorf("%w: WaitAny with no fetch", ErrInvalid)
	}
	handles := make([]uint32, 0, len(ps))
	for i, p := range ps {
		if p.done {
			return i, nil
		}
		handles = append(handles, uint32(p.handle))
	}
	i := hostcall.FetchPoll(handles, -1)
	if i < 0 {
		return -1, fetchError(i, "fetch_poll")
	}
	return int(i), nil
}

// FetchAll starts every request, then waits for all their responses, and
// returns them in the order of reqs, like Promise.all with fetch: the
// requests run at the same time (up to the route's maxFetchConcurrency,
// default 6; later ones wait in line). When one fails, FetchAll closes the
// others at once and returns that error.
func FetchAll(reqs ...*FetchRequest) ([]*FetchResponse, error) {
	ps := make([]*PendingFetch, 0, len(reqs))
	fail := func(err error) ([]*FetchResponse, error) {
		for _, p := range ps {
			p.Close()
		}
		return nil, err
	}
	for _, req := range reqs {
		p, err := StartFetch(req)
		if err != nil {
			return fail(err)
		}
		ps = append(ps, p)
	}
	resps := make([]*FetchResponse, len(ps))
	waiting := make([]int, len(ps)) // indexes into ps of those not arrived
	for i := range waiting {
		waiting[i] = i
	}
	sub := make([]*PendingFetch, 0, len(ps))
	for len(waiting) > 0 {
		sub = sub[:0]
		for _, i := range waiting {
			sub = append(sub, ps[i])
		}
		j, err := WaitAny(sub...)
		if err != nil {
			return fail(err)
		}
		i := waiting[j]
		if resps[i], err = ps[i].Response(); err != nil {
			return fail(err)
		}
		waiting = append(waiting[:j], waiting[j+1:]...)
	}
	return resps, nil
}

// Fetch sends req and waits for the response's head, like http.Client.Do:
// StartFetch, then Response. The caller reads and closes the body.
//
//	resp, err := route.Fetch(&route.FetchRequest{
//		Method: "POST",
//		URL:    "https://api.example.com/v1/items",
//		Header: route.Header{{Name: "Authorization", Value: "Bearer " + os.Getenv("API_TOKEN")}},
//		Body:   []byte(`{"name":"wasm"}`),
//	})
//	if err != nil {
//		w.Text(502, err.Error())
//		return
//	}
//	defer resp.Close()
func Fetch(req *FetchRequest) (*FetchResponse, error) {
	p, err := StartFetch(req)
	if err != nil {
		return nil, err
	}
	return p.Response()
}

// Get fetches url with GET, following redirects, like http.Get.
func Get(url string) (*FetchResponse, error) { return Fetch(&FetchRequest{URL: url}) }

// PostJSON POSTs v, encoded as JSON (SetJSON), to url.
func PostJSON(url string, v any) (*FetchResponse, error) {
	req := &FetchRequest{Method: "POST", URL: url}
	if err := req.SetJSON(v); err != nil {
		return nil, err
	}
	return Fetch(req)
}

// fetchBody streams a response body through fetch_body_read.
type fetchBody struct {
	p   *PendingFetch
	err error // io.EOF once done, errBodyClosed once closed, or the error that ended it
}

func (b *fetchBody) Read(buf []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(buf) == 0 {
		return 0, nil
	}
	for {
		n := hostcall.FetchBodyRead(b.p.handle, buf[:min(len(buf), maxRead)])
		if n == abi.ErrPending {
			if n = poll(b.p.handle); n == abi.OK {
				continue
			}
		}
		switch {
		case n > 0:
			return int(n), nil
		case n == 0:
			b.err = io.EOF
		default:
			b.err = fetchError(n, "fetch "+b.p.url)
		}
		b.p.close() // the body ended: free the handle at once
		return 0, b.err
	}
}

// WriteTo copies the rest of the body to w, through a buffer kept between
// calls rather than the 32 KiB io.Copy would allocate: a proxying guest
// allocates nothing per response for the copy.
func (b *fetchBody) WriteTo(w io.Writer) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(w, struct{ io.Reader }{b}, *buf) // b's Read, not this WriteTo again
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Close frees the handle, cancelling a transfer still under way. Reads
// after Close fail.
func (b *fetchBody) Close() error {
	if b.err == nil || b.err == io.EOF {
		b.err = errBodyClosed
	}
	return b.p.close()
}

// fetchError maps a fetch_* result to its error, explained by the host;
// what names the call if the host gave no explanation.
func fetchError(code int32, what string) error {
	var sentinel error
	switch code {
	case abi.ErrDenied:
		sentinel = ErrDenied
	case abi.ErrLimit:
		sentinel = ErrLimit
	case abi.ErrFailed:
		sentinel = ErrFetchFailed
	case abi.ErrTooLarge:
		sentinel = ErrTooLarge
	case abi.ErrInvalid:
		sentinel = ErrInvalid
	default:
		return codeError(code)
	}
	return hostcall.Explain(sentinel, what)
}

// decodeJSON decodes exactly one JSON value from r into v.
func decodeJSON(r io.Reader, v any, what string) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("route: " + what + " has data after the JSON value")
	}
	return nil
}
