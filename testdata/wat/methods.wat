;; methods: methods beyond the seven. GET, QUERY, PROPFIND, MKCOL and M-SEARCH
;; each answer their own name; "query" (lowercase), TRACE (never served) and
;; LOCK (a method's name with another signature) are not methods.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "GET")
  (data (i32.const 16) "QUERY")
  (data (i32.const 32) "PROPFIND")
  (data (i32.const 48) "MKCOL")
  (data (i32.const 64) "M-SEARCH")
  (func (export "GET") (drop (call $body_write (i32.const 0) (i32.const 3))))
  (func (export "QUERY") (drop (call $body_write (i32.const 16) (i32.const 5))))
  (func (export "PROPFIND") (drop (call $body_write (i32.const 32) (i32.const 8))))
  (func (export "MKCOL") (drop (call $body_write (i32.const 48) (i32.const 5))))
  (func (export "M-SEARCH") (drop (call $body_write (i32.const 64) (i32.const 8))))
  (func (export "query") (unreachable))
  (func (export "TRACE") (unreachable))
  (func (export "LOCK") (param i32) (unreachable))
  (global (export "VERSION") i32 (i32.const 1)))
