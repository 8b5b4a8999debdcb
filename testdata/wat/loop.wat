;; loop: GET never returns: a tight infinite loop.
(module
  (memory (export "memory") 1)
  (func (export "GET") (loop $forever (br $forever))))
