"""Benchmark suites behind `veil bench SUITE`; format in BENCHMARKS.md."""
