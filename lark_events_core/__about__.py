"""The package's version: the one place that defines it (pyproject.toml reads it from here)."""

__version__ = "0.1.0"
