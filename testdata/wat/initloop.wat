;; initloop: its _initialize loops forever. It imports WASI sched_yield, so
;; its loop is instrumented; the route's maxDuration bounds the
;; initialization, and the route answers 500 naming the failure.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (func (export "_initialize")
    (loop $again (br $again)))
  (func (export "GET")))
