;; hog: GET takes everything its limits allow and holds it: it grows its
;; memory until memory.grow fails and writes to every page, grows its
;; table until table.grow fails, then sleeps 1.5 s in poll_oneoff before
;; answering its memory and table sizes as two little-endian i32s. The test
;; runs 8 at once and measures what the process grew by.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 0 funcref)
  ;; One subscription at 0, as in nap.wat: clock id 1 (monotonic) at 16,
  ;; timeout at 24 (set below). The event goes to 64, the count to 128.
  (data (i32.const 16) "\01")
  (func (export "GET") (local $p i32) (local $end i32) (local $step i32)
    (block $full
      (loop $grow
        (br_if $full (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
        (br $grow)))
    (block $last
      (loop $grow1
        (br_if $last (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow1)))
    (local.set $p (i32.const 4096))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (block $touched
      (loop $touch
        (br_if $touched (i32.ge_u (local.get $p) (local.get $end)))
        (i32.store8 (local.get $p) (i32.const 1))
        (local.set $p (i32.add (local.get $p) (i32.const 4096)))
        (br $touch)))
    (local.set $step (i32.const 0x1000000))
    (block $capped
      (loop $tgrow
        (br_if $capped (i32.eqz (local.get $step)))
        (if (i32.eq (table.grow $t (ref.null func) (local.get $step)) (i32.const -1))
          (then (local.set $step (i32.shr_u (local.get $step) (i32.const 1)))))
        (br $tgrow)))
    (i64.store (i32.const 24) (i64.const 1500000000)) ;; 1.5 s, in ns
    (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
    (i32.store (i32.const 256) (memory.size))
    (i32.store (i32.const 260) (table.size $t))
    (drop (call $body_write (i32.const 256) (i32.const 8)))))
