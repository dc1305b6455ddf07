;; Grows memory by one page per call and writes a marker in the new page,
;; then returns the marker byte read from the first byte of page 1 ...
;; After rewind the sandbox must be back at one page with no marker.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "veil_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "veil_invoke") (param $p i32) (param $n i32) (result i64)
    (local $pages i32)
    (local.set $pages (memory.size))
    (drop (memory.grow (i32.const 1)))
    (i32.store8 (i32.const 2048) (i32.add (i32.const 48) (local.get $pages)))
    (i32.store8 (i32.shl (local.get $pages) (i32.const 16)) (i32.const 88))
    (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const 1))))
