"""Benchmarks of terrmap against peer methods; run ``python -m bench.engine``."""
