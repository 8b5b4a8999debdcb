;; middleware: a project's middleware.wasm (runtime's TestMiddlewareWasm).
;; It exports one function, middleware, which acts by the fourth byte of the
;; request path ("/w/<c>..."):
;;   d  answers 401 "denied by wat" itself
;;   r  rewrites to /echo/rewritten, adding x-wat: rewrite to the response
;;   h  goes on with the request header x-user: wat-user (and no other),
;;      adding set-cookie mw=1 to the response
;;   t  traps
;;   l  loops forever
;;   otherwise goes on (x-middleware-next), adding x-wat: next
(module
  (import "wasmroute_v1" "path" (func $path (param i32 i32) (result i32)))
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (import "wasmroute_v1" "header_set" (func $header_set (param i32 i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "set_status" (func $set_status (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "denied by wat")
  (data (i32.const 32) "x-middleware-next")
  (data (i32.const 64) "1")
  (data (i32.const 96) "x-middleware-rewrite")
  (data (i32.const 128) "/echo/rewritten")
  (data (i32.const 160) "x-wat")
  (data (i32.const 192) "rewrite")
  (data (i32.const 224) "next")
  (data (i32.const 256) "x-middleware-override-headers")
  (data (i32.const 288) "x-user")
  (data (i32.const 320) "x-middleware-request-x-user")
  (data (i32.const 352) "wat-user")
  (data (i32.const 384) "set-cookie")
  (data (i32.const 416) "mw=1")
  (func $next
    (drop (call $header_set (i32.const 32) (i32.const 17) (i32.const 64) (i32.const 1))))
  (func (export "middleware") (local $c i32)
    (if (i32.ge_u (call $path (i32.const 1024) (i32.const 256)) (i32.const 4))
      (then (local.set $c (i32.load8_u (i32.const 1027)))))
    (if (i32.eq (local.get $c) (i32.const 100)) ;; d
      (then
        (drop (call $set_status (i32.const 401)))
        (drop (call $body_write (i32.const 0) (i32.const 13)))
        (return)))
    (if (i32.eq (local.get $c) (i32.const 114)) ;; r
      (then
        (drop (call $header_set (i32.const 96) (i32.const 20) (i32.const 128) (i32.const 15)))
        (drop (call $header_set (i32.const 160) (i32.const 5) (i32.const 192) (i32.const 7)))
        (return)))
    (if (i32.eq (local.get $c) (i32.const 104)) ;; h
      (then
        (call $next)
        (drop (call $header_set (i32.const 256) (i32.const 29) (i32.const 288) (i32.const 6)))
        (drop (call $header_set (i32.const 320) (i32.const 27) (i32.const 352) (i32.const 8)))
        (drop (call $header_set (i32.const 384) (i32.const 10) (i32.const 416) (i32.const 4)))
        (return)))
    (if (i32.eq (local.get $c) (i32.const 116)) ;; t
      (then unreachable))
    (if (i32.eq (local.get $c) (i32.const 108)) ;; l
      (then (loop $again (br $again))))
    (call $next)
    (drop (call $header_set (i32.const 160) (i32.const 5) (i32.const 224) (i32.const 4)))))
