package host

import (
	"context"
	"strconv"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmroute/wasmroute/abi"
)

// Revalidator is a project's response cache as cache_revalidate reaches it.
// Its methods must be safe for concurrent use.
type Revalidator interface {
	// RevalidatePath drops the answers stored for path (see
	// abi.FuncCacheRevalidate), or returns an error saying why path is not
	// one.
	RevalidatePath(path string) error
}

// maxRevalidatePath bounds cache_revalidate's path.
const maxRevalidatePath = 8 << 10

// cacheRevalidateFn supports abi.FuncCacheRevalidate: it drops the cached
// answers of a path, through Exchange.Revalidator.
//
// # Parameters
//
//   - path, path_len: the path in memory, such as "/blog/hello" or
//     "/blog/[slug]", at most 8 KiB
//
// Result (err): abi.OK, also when nothing was cached or no cache is
// configured; abi.ErrInvalid for a path that is too long or not a path
// (error_message says why).
func cacheRevalidateFn(ctx context.Context, mod api.Module, stack []uint64) {
	e := exchange(ctx, abi.FuncCacheRevalidate)
	b := e.view(mod, abi.FuncCacheRevalidate, "path", api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if len(b) > maxRevalidatePath {
		e.errMsg = "cache revalidate: the path is over 8 KiB"
		stack[0] = api.EncodeI32(abi.ErrInvalid)
		return
	}
	path := string(b)
	if e.Revalidator == nil {
		stack[0] = api.EncodeI32(abi.OK)
		return
	}
	if err := e.Revalidator.RevalidatePath(path); err != nil {
		e.errMsg = "cache revalidate " + strconv.Quote(path) + ": " + err.Error()
		stack[0] = api.EncodeI32(abi.ErrInvalid)
		return
	}
	stack[0] = api.EncodeI32(abi.OK)
}
