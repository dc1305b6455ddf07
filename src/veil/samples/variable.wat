;; Answers the value of the variable (secret or [config]) its input names, or "<none>".
;; Raw reactor ABI: `veil.variable(name_ptr, name_len, out_ptr, out_cap) -> i32` returns
;; the value's length (copied only if it fits out_cap), or -1 if there is no such variable.
(module
  (import "veil" "variable" (func $variable (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "<none>")
  (global $heap (mut i32) (i32.const 1024))
  (func (export "veil_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "veil_invoke") (param $p i32) (param $n i32) (result i64)
    (local $len i32)
    (local.set $len
      (call $variable (local.get $p) (local.get $n) (i32.const 65536) (i32.const 65536)))
    (if (result i64) (i32.lt_s (local.get $len) (i32.const 0))
      (then (i64.const 6))
      (else (i64.or (i64.shl (i64.const 65536) (i64.const 32))
                    (i64.extend_i32_u (local.get $len)))))))
