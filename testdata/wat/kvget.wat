;; kvget: GET reads key "k" of the project's key-value namespace 100 times
;; with kv_get into a 256-byte buffer, and answers the last length, as one
;; byte: what a guest without a language runtime pays per read.
(module
  (import "wasmroute_v1" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (func (export "GET") (local $i i32) (local $n i32)
    (loop $next
      (local.set $n (call $kv_get (i32.const 0) (i32.const 1) (i32.const 256) (i32.const 256)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 100))))
    (i32.store8 (i32.const 16) (local.get $n))
    (drop (call $body_write (i32.const 16) (i32.const 1)))))
