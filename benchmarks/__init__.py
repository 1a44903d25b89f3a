"""Benchmarks: eventstate's cost measured side by side with its baselines.

``python -m benchmarks`` (or ``--quick``) runs every case in a fresh
subprocess (``python -m benchmarks.case NAME key=value...``), several times,
interleaving the variants a row compares, and prints and saves a table of
ratios with their targets. See ``benchmarks/README.md``.

Nothing here is imported by the engine, and no test asserts a timing.
"""
