;; snapshot: a module that exercises what a snapshot must keep. Its active
;; data segment says "hello, "; a start function (run once, at the
;; snapshot) writes "started:" after it and sets a global to 7. GET appends
;; a passive segment (memory.init, which needs the data count section) and
;; the global's digit, answers the text, then bumps the global and zeroes
;; the first 8 bytes. A fresh instance answers "hello, started: passive 7";
;; one that served a request before answers something else.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 0) "hello, ")
  (data $passive " passive ")
  (func $start
    (i64.store (i32.const 7) (i64.const 0x3a64657472617473)) ;; "started:"
    (global.set $g (i32.const 7)))
  (start $start)
  (func (export "GET")
    (memory.init $passive (i32.const 15) (i32.const 0) (i32.const 9))
    (i32.store8 (i32.const 24) (i32.add (i32.const 48) (global.get $g)))
    (drop (call $body_write (i32.const 0) (i32.const 25)))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i64.store (i32.const 0) (i64.const 0))))
