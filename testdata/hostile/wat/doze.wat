;; doze: GET sleeps 100 ms in WASI poll_oneoff, then writes "done". Served
;; with a time limit of about 100 ms, its return races the timer: the test
;; checks that the timer never touches the connection once the handler has
;; returned (the next request on a kept-alive HTTP/1.1 connection, or an
;; HTTP/2 stream that is gone).
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; One subscription at 0, as in nap.wat: clock id 1 (monotonic) at 16,
  ;; timeout at 24 (set below). The event goes to 64, the count to 128.
  (data (i32.const 16) "\01")
  (data (i32.const 256) "done")
  (func (export "GET")
    (i64.store (i32.const 24) (i64.const 100000000)) ;; 100 ms, in ns
    (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
    (drop (call $body_write (i32.const 256) (i32.const 4)))))
