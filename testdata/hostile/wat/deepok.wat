;; deepok: GET recurses 20,000 calls deep and returns, POST 10 deep; both
;; then answer how many requests this instance has served, as one byte.
;; 20,000 frames pass an eighth of a 64 MiB route's 4 MiB stack budget but
;; not the budget: the request succeeds, and its instance, holding the
;; stack wazero grew for GET, is not kept.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $served (mut i32) (i32.const 0))
  (func $down (param $n i32)
    (if (local.get $n)
      (then (call $down (i32.sub (local.get $n) (i32.const 1))))))
  (func $answer
    (global.set $served (i32.add (global.get $served) (i32.const 1)))
    (i32.store8 (i32.const 0) (i32.add (global.get $served) (i32.const 48))) ;; "1", "2", ...
    (drop (call $body_write (i32.const 0) (i32.const 1))))
  (func (export "GET")
    (call $down (i32.const 20000))
    (call $answer))
  (func (export "POST")
    (call $down (i32.const 10))
    (call $answer)))
