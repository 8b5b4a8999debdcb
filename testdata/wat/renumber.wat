;; renumber: no sched_yield import, so instrumenting it adds one after its
;; own import and moves every defined function up by one: a direct call,
;; call_indirect through active element segments (function indices and
;; expressions), ref.func in a global, exports, the start function, a
;; multi-value function and a branch to a function's label must all keep
;; working (TestInstrumentRenumber).
(module
  (type $unary (func (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 4 funcref)
  (elem (i32.const 0) $double $triple)
  (elem (table $t) (i32.const 2) funcref (ref.func $inc))
  (global $fn funcref (ref.func $triple))
  (global $started (mut i32) (i32.const 0))
  (func $double (type $unary) (i32.mul (local.get 0) (i32.const 2)))
  (func $triple (type $unary) (i32.mul (local.get 0) (i32.const 3)))
  (func $inc (type $unary) (i32.add (local.get 0) (i32.const 1)))
  (func $apply (export "apply") (param $slot i32) (param $x i32) (result i32)
    (call_indirect $t (type $unary) (local.get $x) (local.get $slot)))
  (func (export "direct") (param i32) (result i32)
    (call $triple (call $double (local.get 0))))
  (func (export "viaGlobal") (param i32) (result i32)
    (table.set $t (i32.const 3) (global.get $fn))
    (call_indirect $t (type $unary) (local.get 0) (i32.const 3)))
  (func (export "started") (result i32) (global.get $started))
  (func (export "multi") (param i32) (result i32 i32)
    (call $double (local.get 0))
    (call $inc (local.get 0)))
  (func $early (export "early") (param i32) (result i32)
    (br_if 0 (call $double (local.get 0)) (i32.eqz (local.get 0)))
    (drop)
    (return (call $inc (i32.const 6))))
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else
        (i32.add
          (call $fib (i32.sub (local.get 0) (i32.const 1)))
          (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $start
    (global.set $started (call $inc (i32.const 41))))
  (start $start))
