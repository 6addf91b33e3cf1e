"""Safe SQL text for the few places where values must become SQL literals (replaceWhere)."""

from __future__ import annotations

from collections.abc import Iterable


def string_literal(value: str) -> str:
    """A single-quoted SQL string literal with quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def in_list(values: Iterable[str]) -> str:
    """Comma-separated string literals for an IN (...) predicate, sorted for stable commits."""
    return ", ".join(string_literal(v) for v in sorted(set(values)))
