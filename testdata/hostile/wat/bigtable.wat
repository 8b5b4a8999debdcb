;; bigtable: a table of 50,000,000 entries, which wazero would allocate
;; (400 MB) for every instance; a route answering ok if it ever ran.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table 50000000 funcref)
  (data (i32.const 0) "ok")
  (func (export "GET")
    (drop (call $body_write (i32.const 0) (i32.const 2)))))
