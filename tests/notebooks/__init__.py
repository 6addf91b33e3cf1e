"""Issue 6 tests: see the conftest and test modules."""
