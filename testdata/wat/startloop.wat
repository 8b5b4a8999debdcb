;; startloop: its start function loops forever, and it does not import
;; sched_yield, so it runs with wazero's termination checks; the route's
;; maxDuration bounds the initialization, and the route answers 500.
(module
  (memory (export "memory") 1)
  (func $start
    (loop $again (br $again)))
  (start $start)
  (func (export "GET")))
