;; Busy-loops for (first input byte) x 10,000,000 iterations, then echoes its input.
;; A slow but finite function, for tests that need a request in flight.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "veil_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "veil_invoke") (param $p i32) (param $n i32) (result i64)
    (local $i i32)
    (local.set $i (i32.mul (i32.load8_u (local.get $p)) (i32.const 10000000)))
    (block $done
      (loop $spin
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $spin)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (local.get $n)))))
