"""Benchmarks of concur-lab against raw primitives and peer plugins: ``python -m benchmarks``.

Every comparison is measured in one run, interleaved (A B A B ...), and reported as the median of
per-round ratios with their min and max, so that load drifting on a shared machine hits both sides.
"""
