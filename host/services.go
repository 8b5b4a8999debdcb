package host

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmroute/wasmroute/abi"
)

// Outbound is what a route's guest may reach over HTTP, and how much:
// Exchange.Outbound. Package internal/outbound builds one from a route's
// allowedOutboundHosts.
type Outbound struct {
	// Client sends the guest's requests. Its transport must check the
	// address it dials (loopback, private... refused) and its
	// CheckRedirect each hop, as internal/outbound's do.
	Client *http.Client
	// Allow reports why the guest may not send a request to u, or nil. Its
	// message reaches the guest (error_message) and the log, so it names
	// the allow-list entry to add.
	Allow func(u *url.URL) error
	// MaxFetches bounds fetch_start calls per request, MaxConcurrency
	// those in flight at once (later ones wait in line), MaxBody each
	// response body. Zero: no bound.
	MaxFetches     int
	MaxConcurrency int
	MaxBody        int64
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
