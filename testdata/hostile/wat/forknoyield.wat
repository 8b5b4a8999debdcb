;; forknoyield: fork without the sched_yield import, which wasmroute adds
;; (renumbering the functions) to reach its checks.
(module
  (memory (export "memory") 1)
  (func $fork (param $depth i32)
    (if (i32.eqz (local.get $depth)) (then (return)))
    (call $fork (i32.sub (local.get $depth) (i32.const 1)))
    (call $fork (i32.sub (local.get $depth) (i32.const 1))))
  (func (export "GET")
    (call $fork (i32.const 60))))
