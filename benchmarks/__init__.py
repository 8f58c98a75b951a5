"""Benchmarks: each figure of issue 7 against its baseline, side by side in one run.

Run from a checkout: ``python -m benchmarks [--scale smoke|small|full] [--json FILE]``.
"""
