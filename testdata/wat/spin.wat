;; spin: "noop" returns at once; "spin" counts to 1,000,000 in a tight loop;
;; "fib" computes fib(25) by double recursion, 242,785 calls without a loop.
;; Used to measure what interrupting a guest costs per call, per loop and
;; per function entry (internal/wasmbin/instrument.go). It imports WASI
;; sched_yield, unused, as Go guests do.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (func (export "noop"))
  (func (export "spin") (local $i i32)
    (loop $next
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 1000000)))))
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "fib25") (result i32)
    (call $fib (i32.const 25))))
