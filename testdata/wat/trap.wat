;; trap: GET sets a cookie, then hits unreachable before writing anything (the
;; 500 must not carry the cookie); POST writes a body, then traps (too late
;; for a 500).
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (import "wasmroute_v1" "header_set" (func $header_set (param i32 i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "flush" (func $flush (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "partial")
  (data (i32.const 16) "set-cookie")
  (data (i32.const 32) "session=leak")
  (func (export "GET")
    (drop (call $header_set (i32.const 16) (i32.const 10) (i32.const 32) (i32.const 12)))
    unreachable)
  (func (export "POST")
    (drop (call $body_write (i32.const 0) (i32.const 7)))
    (drop (call $flush))
    unreachable))
