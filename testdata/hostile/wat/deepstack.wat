;; deepstack: GET recurses without end, eight i64 values live across each
;; call: the stack grows until something stops it. wazero alone lets it
;; reach ~160 MB of Go heap a request, outside the memory limit.
(module
  (memory (export "memory") 1)
  (func $down (param $d i64) (result i64)
    (local $a i64) (local $b i64) (local $c i64) (local $e i64)
    (local.set $a (i64.add (local.get $d) (i64.const 1)))
    (local.set $b (i64.mul (local.get $d) (i64.const 3)))
    (local.set $c (i64.xor (local.get $d) (i64.const 5)))
    (local.set $e (i64.sub (local.get $d) (i64.const 7)))
    (i64.add
      (i64.add (i64.add (local.get $a) (local.get $b)) (i64.add (local.get $c) (local.get $e)))
      (call $down (local.get $a))))
  (func (export "GET")
    (drop (call $down (i64.const 0)))))
