"""What a job writes, declared: one `Output` per table, with its write mode and its accounting.

A job lists its outputs as `merge(...)`, `replace_slices(...)`, `insert_new(...)` or `append(...)`
and its transform returns one DataFrame per output; the runner (`lakejobs.runner`) turns each
declaration into one commit. Slice predicates are built here from the data, never by hand, so
every value is quoted by one rule (strings escaped, dates as DATE literals, NULL as IS NULL).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pyspark.sql import DataFrame

from lakejobs.commits import Commit
from lakejobs.contracts import TableContract, table_contract
from lakejobs.errors import UsageError
from lakejobs.sql import string_literal

Mode = Literal["merge", "replace_slices", "insert_new", "append"]
# Which figure of the row accounting an output's rows add to (None: not counted).
Counts = Literal["written", "quarantined"] | None
SliceValue = str | int | date | datetime | None


@dataclass(frozen=True)
class Output:
    """One output table and how a run writes it (see the constructors below).

    `owned` names a column whose value is the run date on the rows a delivery of that date
    replaces as a whole (`ingest_date`): a merge deletes those whose key it no longer delivers,
    a slice replacement replaces them along with the slices of the data.
    `weight` counts each written row as the sum of these columns (an aggregate row standing
    for the input rows it sums), taken from the frame written instead of the commit.
    """

    table: str
    mode: Mode
    by: tuple[str, ...] = ()
    update_condition: str | None = None
    owned: str | None = None
    counts: Counts = "written"
    weight: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        contract = self.contract
        unknown = [
            c
            for c in (*self.by, *self.weight, *filter(None, [self.owned]))
            if c not in contract.columns
        ]
        if unknown:
            raise UsageError(
                f"output {self.table}: not columns of its contract: {', '.join(unknown)}"
            )
        if self.mode == "replace_slices" and not (self.by or self.owned):
            raise UsageError(f"output {self.table}: replace_slices needs `by` or `owned`")

    @property
    def contract(self) -> TableContract:
        return table_contract(self.table)

    def written(self, commit: Commit) -> int:
        """The rows of the frame the commit took in, from Delta's metrics of that commit."""
        if self.mode == "insert_new":
            return commit.metric("numTargetRowsInserted")
        if (
            self.mode == "merge"
        ):  # source: one row per key delivered + one tombstone per key withdrawn
            return commit.metric("numSourceRows") - commit.metric("numTargetRowsMatchedDeleted")
        return commit.metric("numOutputRows")


def _checked_keys(table: str, keys: Sequence[str]) -> None:
    primary = table_contract(table).primary_key
    if tuple(keys) != primary:
        raise UsageError(
            f"output {table}: keys {', '.join(keys)} are not its contract's primary key "
            f"({', '.join(primary) or 'none'})"
        )


def merge(
    table: str,
    keys: Sequence[str],
    update_condition: str | None = None,
    owned: str | None = None,
    counts: Counts = "written",
) -> Output:
    """Upsert on `keys` (the contract's primary key) in one MERGE; `update_condition` guards
    updates (`s.` the new row, `t.` the stored one)."""
    _checked_keys(table, keys)
    return Output(table, "merge", update_condition=update_condition, owned=owned, counts=counts)


def insert_new(
    table: str, keys: Sequence[str], owned: str | None = None, counts: Counts = "written"
) -> Output:
    """Insert the rows whose key is not in the table yet (an insert-only MERGE on `keys`)."""
    _checked_keys(table, keys)
    return Output(table, "insert_new", owned=owned, counts=counts)


def replace_slices(
    table: str,
    by: Sequence[str] = (),
    owned: str | None = None,
    counts: Counts = "written",
    weight: Sequence[str] = (),
) -> Output:
    """Replace, in one `replaceWhere` commit, every slice (distinct values of `by`) the data
    holds, or the slices a transform names with `Slices`."""
    return Output(
        table, "replace_slices", tuple(by), owned=owned, counts=counts, weight=tuple(weight)
    )


def append(table: str, counts: Counts = "written") -> Output:
    """Append the rows as they are."""
    return Output(table, "append", counts=counts)


@dataclass(frozen=True)
class Slices:
    """Rows for a `replace_slices` output with the slices they replace named apart: `scope`
    names every slice to replace, also those the rows no longer fill (a re-delivery withdrew
    them), so those slices are emptied. It is a DataFrame holding the `by` columns, or the
    slices themselves: values for one `by` column, tuples for several."""

    rows: DataFrame
    scope: DataFrame | Collection[SliceValue | tuple[SliceValue, ...]]


def sql_literal(value: SliceValue) -> str:
    """A value of a slice column as Spark SQL text."""
    if isinstance(value, datetime):
        raise UsageError(f"slice value {value!r}: timestamps do not name slices")
    if isinstance(value, date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise UsageError(f"slice value {value!r}: expected text, a whole number or a date")
    return str(value) if isinstance(value, int) else string_literal(value)


def _equals(column: str, value: SliceValue) -> str:
    return f"`{column}` IS NULL" if value is None else f"`{column}` = {sql_literal(value)}"


def _one_of(column: str, values: Iterable[SliceValue]) -> str:
    values = set(values)
    present = sorted((v for v in values if v is not None), key=lambda v: (type(v).__name__, v))
    parts = [f"`{column}` IN ({', '.join(sql_literal(v) for v in present)})"] if present else []
    if None in values:
        parts.append(f"`{column}` IS NULL")
    return " OR ".join(parts)


def slice_predicate(by: Sequence[str], slices: Iterable[Sequence[SliceValue]]) -> str:
    """`replaceWhere` text selecting exactly `slices` (tuples of values of the `by` columns):
    `` `c` IN (...) `` for one column, `(a = x AND b IN (...)) OR ...` for several; `1 = 0`
    for none."""
    groups: dict[tuple[SliceValue, ...], set[SliceValue]] = {}
    for values in slices:
        if len(values) != len(by):
            raise UsageError(f"slice {tuple(values)!r} does not match the columns {', '.join(by)}")
        groups.setdefault(tuple(values[:-1]), set()).add(values[-1])
    parts = []
    for prefix, last in sorted(groups.items(), key=lambda item: repr(item[0])):
        condition = _one_of(by[-1], last)
        fixed = [_equals(column, value) for column, value in zip(by, prefix, strict=False)]
        parts.append(" AND ".join([*fixed, f"({condition})"]) if fixed else condition)
    if not parts:
        return "1 = 0"
    return parts[0] if len(parts) == 1 and len(by) == 1 else " OR ".join(f"({p})" for p in parts)
