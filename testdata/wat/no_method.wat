;; no_method: exports memory and nothing else.
(module (memory (export "memory") 1))
