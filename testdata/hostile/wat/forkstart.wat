;; forkstart: fork's 2^60 calls in the module's start function, which runs
;; when the module is compiled and its snapshot taken, bounded by the
;; route's maxDuration, before any request could be stopped.
(module
  (memory (export "memory") 1)
  (func $fork (param $depth i32)
    (if (i32.eqz (local.get $depth)) (then (return)))
    (call $fork (i32.sub (local.get $depth) (i32.const 1)))
    (call $fork (i32.sub (local.get $depth) (i32.const 1))))
  (func $start
    (call $fork (i32.const 60)))
  (start $start)
  (func (export "GET")))
