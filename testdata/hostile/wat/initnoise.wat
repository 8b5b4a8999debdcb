;; initnoise: its start function prints 64 KiB to stdout, then traps. Its
;; failed initialization is kept and answered (500) on every request; what
;; it printed must reach the log through the tenant's output limit, not
;; with every request's error line.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; One iovec at 0: 64 KiB from 1024.
  (data (i32.const 0) "\00\04\00\00\00\00\01\00")
  (func $start
    (memory.fill (i32.const 1024) (i32.const 120) (i32.const 65536)) ;; "x"
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    unreachable)
  (start $start)
  (func (export "GET")
    (drop (call $body_write (i32.const 1024) (i32.const 1)))))
