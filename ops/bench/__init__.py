"""Benchmarks (harnesses, not tests): run by hand, figures go to docs/benchmarks.md."""
