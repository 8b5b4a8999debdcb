;; spin: "noop" returns at once; "spin" counts to 1,000,000 in a tight loop.
;; Used to measure what interrupting a guest costs per call and per loop. It
;; imports WASI sched_yield, unused, as Go guests do: that lets wasmroute
;; instrument its loop (runtime/instrument.go).
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (func (export "noop"))
  (func (export "spin") (local $i i32)
    (loop $next
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 1000000))))))
