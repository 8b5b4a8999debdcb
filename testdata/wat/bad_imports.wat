;; bad_imports: an unknown host module, an unknown v1 function and a v1
;; function with the wrong signature.
(module
  (import "env" "log" (func (param i32 i32)))
  (import "wasmroute_v1" "teleport" (func))
  (import "wasmroute_v1" "method" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "GET")))
