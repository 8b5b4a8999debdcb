;; only_lowercase: exports "get" and "default", neither a method: the route
;; loads and answers 405.
(module
  (memory (export "memory") 1)
  (func (export "get"))
  (func (export "default")))
