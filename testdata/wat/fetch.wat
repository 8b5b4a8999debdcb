;; fetch: GET fetches the URL in its query (the raw query, unescaped, e.g.
;; ?http://127.0.0.1:8080/hello) and answers the upstream's body: one
;; fetch_start, fetch_poll until the head and each chunk arrive, fetch_head,
;; fetch_body_read into body_write. A fetch that fails answers 502. What a
;; proxy pays for a fetch without a language runtime.
(module
  (import "wasmroute_v1" "query" (func $query (param i32 i32) (result i32)))
  (import "wasmroute_v1" "fetch_start" (func $fetch_start (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "fetch_poll" (func $fetch_poll (param i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "fetch_head" (func $fetch_head (param i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "fetch_body_read" (func $fetch_body_read (param i32 i32 i32) (result i32)))
  (import "wasmroute_v1" "fetch_close" (func $fetch_close (param i32) (result i32)))
  (import "wasmroute_v1" "set_status" (func $set_status (param i32) (result i32)))
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; The request list at 0: item "GET", then the URL, copied after it.
  (data (i32.const 0) "\03\00\00\00GET")
  ;; handles[0] at 64; the head at 1024 (up to 4 KiB); body chunks at 8192.
  (func $fail
    (drop (call $set_status (i32.const 502))))
  (func (export "GET") (local $n i32) (local $h i32)
    ;; The URL goes at 11, after its length at 7.
    (local.set $n (call $query (i32.const 11) (i32.const 1000)))
    (if (i32.gt_u (local.get $n) (i32.const 1000)) (then (call $fail) (return)))
    (i32.store (i32.const 7) (local.get $n))
    (local.set $h (call $fetch_start (i32.const 0) (i32.add (i32.const 11) (local.get $n)) (i32.const 0) (i32.const 0) (i32.const 0)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (call $fail) (return)))
    (i32.store (i32.const 64) (local.get $h))
    ;; The head.
    (loop $head
      (local.set $n (call $fetch_head (local.get $h) (i32.const 1024) (i32.const 4096)))
      (if (i32.eq (local.get $n) (i32.const -8))
        (then (drop (call $fetch_poll (i32.const 64) (i32.const 1) (i32.const -1))) (br $head))))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (call $fail) (return)))
    ;; The body.
    (block $end
      (loop $body
        (local.set $n (call $fetch_body_read (local.get $h) (i32.const 8192) (i32.const 32768)))
        (if (i32.eq (local.get $n) (i32.const -8))
          (then (drop (call $fetch_poll (i32.const 64) (i32.const 1) (i32.const -1))) (br $body)))
        (br_if $end (i32.le_s (local.get $n) (i32.const 0)))
        (drop (call $body_write (i32.const 8192) (local.get $n)))
        (br $body)))
    (drop (call $fetch_close (local.get $h)))))
