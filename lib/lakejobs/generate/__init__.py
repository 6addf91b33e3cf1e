"""Deterministic sample raw deliveries for the demo and the tests: pure Python + numpy, no Spark."""
