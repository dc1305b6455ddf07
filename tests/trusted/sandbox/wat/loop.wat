;; Spins forever: must hit the fuel or epoch limit.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "veil_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "veil_invoke") (param i32 i32) (result i64)
    (loop $forever (br $forever))
    (i64.const 0)))
