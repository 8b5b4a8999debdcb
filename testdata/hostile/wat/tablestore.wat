;; tablestore: GET stores a function into the first empty slot of its
;; 8-slot table and answers how many slots are now full, as one digit. A
;; fresh instance answers "1"; one that kept its table counts up.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 8 funcref)
  (func $f)
  (elem declare func $f)
  (func (export "GET") (local $i i32)
    (block $found
      (loop $next
        (br_if $found (ref.is_null (table.get $t (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (i32.const 7)))))
    (table.set $t (local.get $i) (ref.func $f))
    (i32.store8 (i32.const 0) (i32.add (i32.const 49) (local.get $i)))
    (drop (call $body_write (i32.const 0) (i32.const 1)))))
