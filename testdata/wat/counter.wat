;; counter: GET answers how many requests this instance served before, as one
;; byte '0'+n. A fresh instance answers "0"; a reused one counts up.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (func (export "GET")
    (i32.store8 (i32.const 0) (i32.add (i32.const 48) (global.get $n)))
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (drop (call $body_write (i32.const 0) (i32.const 1)))))
