"""Benchmarks: run each with ``.venv/bin/python -m benchmarks.<name>`` from the repository root."""
