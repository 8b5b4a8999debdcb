package host

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmroute/wasmroute/abi"
)

// Outbound is what a route's guest may reach over HTTP, and how much:
// Exchange.Outbound. Package internal/outbound builds the Client and Allow
// from a route's allowedOutboundHosts:
//
//	p, err := outbound.Parse(entries, "wasmroute.json")
//	...
//	e.Outbound = &host.Outbound{Client: p.Client(), Allow: p.Allow, MaxFetches: 50, MaxConcurrency: 6, MaxBody: 10 << 20}
//
// One Outbound may serve many requests at once: the host only reads it.
type Outbound struct {
	// Client sends the guest's requests. Its transport must check the
	// address it dials (loopback, private... refused) and its
	// CheckRedirect each hop, as internal/outbound's do. An error of its
	// that is an *outbound.DeniedError (errors.As) is the fetch's
	// abi.ErrDenied; any other, abi.ErrFailed. For fetch_start's manual
	// and error redirect modes, the host sends through a copy of it with
	// another CheckRedirect. Nil: every fetch_start is abi.ErrDenied.
	Client *http.Client
	// Allow reports why the guest may not send a request to u, or nil.
	// Its message reaches the guest (error_message), so it names the
	// allow-list entry to add; it must not show the URL's userinfo or
	// query. Nil: every fetch_start is abi.ErrDenied.
	Allow func(u *url.URL) error
	// MaxFetches bounds fetch_start calls per request (the next is
	// abi.ErrLimit), MaxConcurrency those in flight at once (later ones
	// wait in line), MaxBody each response body (past it,
	// fetch_body_read returns abi.ErrTooLarge). Zero: no bound.
	MaxFetches     int
	MaxConcurrency int
	MaxBody        int64
	// Denied, when set, is told the message of each fetch the policy
	// refuses (Allow, an address dialled, a redirect), for the log. It may
	// be called from another goroutine than the guest's.
	Denied func(msg string)
}

// errMaxDuration is the cause of the deadline of a request's fetch_* and
// kv_* calls.
var errMaxDuration = errors.New("the request's maxDuration ran out")

// serviceContext returns the context of the request's outbound and store
// calls: ctx (the guest call's, the same for every call of a request: its
// client leaving ends it) with Exchange.Deadline, errMaxDuration its cause.
// It is made once a request, not once a call (a timer per call would cost
// more than an embedded store's read), and End cancels it.
func (e *Exchange) serviceContext(ctx context.Context) context.Context {
	if e.svcCtx == nil {
		if e.Deadline.IsZero() {
			e.svcCtx, e.svcCancel = context.WithCancel(ctx)
		} else {
			e.svcCtx, e.svcCancel = context.WithDeadlineCause(ctx, e.Deadline, errMaxDuration)
		}
	}
	return e.svcCtx
}

// errorMessageFn supports abi.FuncErrorMessage: it writes the explanation
// of the last error a fetch_* or kv_* call returned in this request (empty
// when none did) to (buf, buf_len) and returns its length, as methodFn
// does.
func errorMessageFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncErrorMessage)
	stack[0] = get(e, mod, abi.FuncErrorMessage, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), e.errMsg)
}

// fail records err's message for error_message and returns code.
func (e *Exchange) fail(code int32, err error) int32 {
	e.errMsg = err.Error()
	return code
}
