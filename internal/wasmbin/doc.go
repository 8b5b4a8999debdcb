// Package wasmbin is what wasmroute does to a WebAssembly module binary
// before wazero sees it: it reads what the load-time checks need (Parse,
// ReadHead), bounds what wazero would allocate by the counts a binary
// declares (Prepare), instruments every module so that a runaway guest can
// be stopped and its stack is bounded (Instrument), and rewrites a module
// so that an instance can start from a snapshot of its initialized state
// (Rewrite).
//
// The serving pipeline, in package runtime, is
//
//	info, size, err := wasmbin.ReadHead(root, file) // at load: check the ABI against info
//	bin, err := wasmbin.ReadFile(root, file)       // at first use
//	bin, err = wasmbin.Prepare(bin, maxMemory)
//	ins, err := wasmbin.Instrument(bin, stackBudget)
//	rw, err := wasmbin.Rewrite(ins.Bin)             // unless ins.MutatesTables
//
// The package works on bytes only: it knows nothing of routes, the ABI's
// host functions or wazero's runtime, and imports neither runtime nor host.
// Its functions never modify their input (what they return may share memory
// with it: Prepare may return bin itself, Rewritten.Segments point into it)
// and are safe for concurrent use.
//
// See https://webassembly.github.io/spec/core/binary/index.html
package wasmbin
