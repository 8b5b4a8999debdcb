;; hello: GET answers 200 "hello" as text/plain; POST answers 201 with the
;; request body echoed back, read and written in 16-byte chunks.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (import "wasmroute_v1" "body_read" (func $body_read (param i32 i32) (result i32)))
  (import "wasmroute_v1" "header_set" (func $header_set (param i32 i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "set_status" (func $set_status (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello")
  (data (i32.const 16) "content-type")
  (data (i32.const 32) "text/plain")
  (func (export "GET")
    (drop (call $header_set (i32.const 16) (i32.const 12) (i32.const 32) (i32.const 10)))
    (drop (call $body_write (i32.const 0) (i32.const 5))))
  (func (export "POST") (local $n i32)
    (drop (call $set_status (i32.const 201)))
    (block $done
      (loop $next
        (local.set $n (call $body_read (i32.const 1024) (i32.const 16)))
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (drop (call $body_write (i32.const 1024) (local.get $n)))
        (br $next)))))
