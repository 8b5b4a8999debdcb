;; fork: GET calls a function that calls itself twice with a depth counter,
;; from depth 60: 2^60 calls, and not one loop for a loop check to catch.
;; It imports sched_yield, as every Go guest does; forknoyield does not.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (memory (export "memory") 1)
  (func $fork (param $depth i32)
    (if (i32.eqz (local.get $depth)) (then (return)))
    (call $fork (i32.sub (local.get $depth) (i32.const 1)))
    (call $fork (i32.sub (local.get $depth) (i32.const 1))))
  (func (export "GET")
    (call $fork (i32.const 60))))
