;; forever: GET loops forever without calling anything. It imports WASI
;; sched_yield, unused, as Go guests do, so wasmroute instruments its loop
;; rather than compiling it with wazero's termination checks: the countdown
;; it inserts is what must stop it.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (func (export "GET")
    (loop $again (br $again))))
