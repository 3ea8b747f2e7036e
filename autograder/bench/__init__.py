"""Benchmarks (``make bench``), not tests: each measures its alternatives side by side in one run."""
