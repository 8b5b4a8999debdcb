;; lowercase: exports "get" and "default", which are not methods, beside POST.
(module
  (memory (export "memory") 1)
  (func (export "get"))
  (func (export "default"))
  (func (export "POST")))
