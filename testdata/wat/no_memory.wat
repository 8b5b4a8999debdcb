;; no_memory: exports GET but no memory.
(module (func (export "GET")))
