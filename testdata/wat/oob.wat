;; oob: GET passes body_write a range that runs past the end of memory.
(module
  (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "GET")
    (drop (call $body_write (i32.const 65530) (i32.const 16)))))
