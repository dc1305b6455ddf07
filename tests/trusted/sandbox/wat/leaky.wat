;; Tries to leak one request into the next: keeps the last input's pointer and
;; length in globals (and its bytes stay in memory), and returns the previous
;; input. Without rewind, request N+1 would see request N.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "veil_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (global $last_ptr (mut i32) (i32.const 0))
  (global $last_len (mut i32) (i32.const 0))
  (global $calls (mut i64) (i64.const 0))
  (func (export "veil_invoke") (param $p i32) (param $n i32) (result i64)
    (local $prev_ptr i32) (local $prev_len i32)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (local.set $prev_ptr (global.get $last_ptr))
    (local.set $prev_len (global.get $last_len))
    ;; also stash a copy of the input at a fixed address
    (memory.copy (i32.const 1024) (local.get $p) (local.get $n))
    (global.set $last_ptr (local.get $p))
    (global.set $last_len (local.get $n))
    (if (i64.gt_u (global.get $calls) (i64.const 1))
      (then (return (i64.or (i64.shl (i64.extend_i32_u (local.get $prev_ptr)) (i64.const 32))
                            (i64.extend_i32_u (local.get $prev_len))))))
    ;; first call: return 32 bytes of the stash area; whatever an earlier request
    ;; left there beyond this input would show
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 32))))
