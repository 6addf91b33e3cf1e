"""The lake shared by the notebooks, BI and interop tests."""

from tests.interop.curated_lake import curated_lake  # noqa: F401  (a fixture)
