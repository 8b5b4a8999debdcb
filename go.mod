module github.com/wasmroute/wasmroute

go 1.26.8

require (
	code.dny.dev/ssrf v0.3.0
	github.com/evanw/esbuild v0.28.2
	github.com/google/go-cmp v0.7.0
	github.com/julienschmidt/httprouter v1.3.0
	github.com/tetratelabs/wazero v1.12.0
)

require (
	github.com/valkey-io/valkey-go v1.0.79
	go.etcd.io/bbolt v1.5.0
	golang.org/x/sys v0.47.0
)

require github.com/fsnotify/fsnotify v1.10.1

// Route sources live in bracketed folders the go command cannot name as
// packages; they are built by file list (wasmroute build).
ignore ./examples/demo/app
