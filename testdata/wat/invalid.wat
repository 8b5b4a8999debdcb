;; invalid: well-formed exports, but GET's body leaves a value on the stack,
;; which validation refuses. Assembled with wat2wasm --no-check.
(module
  (memory (export "memory") 1)
  (func (export "GET") (i32.const 1)))
