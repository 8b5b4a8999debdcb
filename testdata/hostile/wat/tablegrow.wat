;; tablegrow: GET grows its table by 0xFFFFFFF0 entries (32 GiB in wazero
;; for a table without a maximum); POST grows it by 65,536 entries at a time
;; until table.grow fails. Each answers, as a 4-byte little-endian i32
;; body, GET what table.grow returned, POST the table's size.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 0 funcref)
  (func (export "GET")
    (i32.store (i32.const 0) (table.grow $t (ref.null func) (i32.const 0xFFFFFFF0)))
    (drop (call $body_write (i32.const 0) (i32.const 4))))
  (func (export "POST")
    (block $full
      (loop $grow
        (br_if $full (i32.eq (table.grow $t (ref.null func) (i32.const 65536)) (i32.const -1)))
        (br $grow)))
    (i32.store (i32.const 0) (table.size $t))
    (drop (call $body_write (i32.const 0) (i32.const 4)))))
