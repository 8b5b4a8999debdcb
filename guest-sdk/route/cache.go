package route

import (
	"strconv"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/hostcall"
)

// RevalidatePath drops the project's cached answers for path — every query
// and variant of it — or, when path is a route's pattern such as
// "/blog/[slug]", every cached answer of that route, so that the next
// request runs the route's handler (Next.js' revalidatePath). Only the GET
// answers of routes that set revalidate or dynamic "force-static" are
// cached. It returns nil also when nothing was cached, and an error
// wrapping ErrInvalid for a path that does not start with "/", has a query
// or is over 8 KiB. It must be called while serving a request.
func RevalidatePath(path string) error {
	if code := hostcall.CacheRevalidate(path); code != abi.OK {
		return hostcall.Explain(codeError(code), "revalidate "+strconv.Quote(path))
	}
	return nil
}
