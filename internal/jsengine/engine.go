// Package jsengine holds wasmroute's JavaScript engine: QuickJS compiled to
// a WebAssembly route module (engine.wasm), with the glue in src/ that runs
// the platform script and the route's bundle and serves requests through
// them. CONTRACT.md is its specification; build.sh rebuilds engine.wasm
// from Debian's quickjs source package, patches/ and src/.
package jsengine

import _ "embed"

//go:embed engine.wasm
var wasm []byte

// Wasm returns engine.wasm: a route module (abi/ABI.md) importing only
// wasmroute_v1 and wasi_snapshot_preview1, exporting memory, _initialize
// and the seven methods, whose _initialize evaluates the init input read
// from stdin (CONTRACT.md). The slice is shared: callers must not modify it.
// Wasm is safe for concurrent use.
func Wasm() []byte { return wasm }
