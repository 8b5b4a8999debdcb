;; bad_signature: GET takes a parameter; POST returns a result.
(module
  (memory (export "memory") 1)
  (func (export "GET") (param i32))
  (func (export "POST") (result i32) (i32.const 0)))
