"""Benchmark scripts: run as `python bench/<name>.py`; they print throughput, not pass/fail."""
