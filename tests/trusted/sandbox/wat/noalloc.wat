;; Breaks the ABI: no veil_alloc export.
(module
  (memory (export "memory") 1)
  (func (export "veil_invoke") (param i32 i32) (result i64) (i64.const 0)))
