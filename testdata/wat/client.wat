;; client: what the host says of the client. GET answers its address and
;; protocol, a newline, then the request's header names as the host lists
;; them (abi.FuncHeaderNames), e.g.
;; "127.0.0.1:41234 HTTP/1.1\n" 04 00 00 00 "host" ...; POST answers the
;; values of X-Forwarded-For as a list (abi.FuncHeaderValues).
(module
  (import "wasmroute_v1" "remote_addr" (func $remote_addr (param i32 i32) (result i32)))
  (import "wasmroute_v1" "protocol" (func $protocol (param i32 i32) (result i32)))
  (import "wasmroute_v1" "header_names" (func $header_names (param i32 i32) (result i32)))
  (import "wasmroute_v1" "header_values" (func $header_values (param i32 i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 60000) "x-forwarded-for")
  ;; $fits returns $n, the length a getter returned, if it fitted in the
  ;; buffer of $size bytes (then it was written there), else 0.
  (func $fits (param $n i32) (param $size i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $n) (local.get $size))
      (then (i32.const 0)) (else (local.get $n))))
  (func (export "GET") (local $at i32)
    (local.set $at (call $fits (call $remote_addr (i32.const 0) (i32.const 256)) (i32.const 256)))
    (i32.store8 (local.get $at) (i32.const 32))
    (local.set $at (i32.add (local.get $at) (i32.const 1)))
    (local.set $at (i32.add (local.get $at)
      (call $fits (call $protocol (local.get $at) (i32.const 64)) (i32.const 64))))
    (i32.store8 (local.get $at) (i32.const 10))
    (local.set $at (i32.add (local.get $at) (i32.const 1)))
    (local.set $at (i32.add (local.get $at)
      (call $fits (call $header_names (local.get $at) (i32.const 4096)) (i32.const 4096))))
    (drop (call $body_write (i32.const 0) (local.get $at))))
  (func (export "POST")
    (drop (call $body_write (i32.const 0)
      (call $fits (call $header_values (i32.const 60000) (i32.const 15) (i32.const 0) (i32.const 4096)) (i32.const 4096))))))
