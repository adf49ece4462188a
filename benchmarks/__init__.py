"""Benchmarks: ``make bench`` (``python -m benchmarks``) rewrites benchmarks/README.md."""
