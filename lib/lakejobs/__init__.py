"""lakejobs: PySpark jobs that turn a raw data lake into validated, curated Delta tables."""

from __future__ import annotations

__version__ = "0.1.0"
