;; nap: GET sleeps an hour in WASI poll_oneoff and, woken when its request is
;; stopped, returns at once: no call and no loop follow, so nothing in the
;; guest stops it. It attempts to end its request as if it had finished in
;; time, on a connection its stop left marked.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; One subscription at 0 (48 bytes): userdata 0, tag 0 (clock) at 8,
  ;; clock id 1 (monotonic) at 16, timeout at 24 (set below), precision 0
  ;; at 32, flags 0 (relative) at 40. The event goes to 64, the count to 128.
  (data (i32.const 16) "\01")
  (func (export "GET")
    (i64.store (i32.const 24) (i64.const 3600000000000)) ;; an hour, in ns
    (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))
