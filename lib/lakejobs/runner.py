"""Run one declared job: read its inputs, transform, validate, write, count from the commits.

Every job goes through the same steps, so none writes them by hand: the transform gets only its
declared inputs; every output with an expectation suite is checked before anything is written
(on the raw batch for an ingest, else on the output's rows); each output is written with one
commit in the mode it declares, `replace_slices` with a predicate built from the data, and the
`run_id` lineage column filled in where the contract has it and the frame does not; the row
accounting is taken from those commits (`Output.written`). Frames read more than once are cached
for the run and released after it, whatever happens. Rolling back a failed run and recording it
are the pipeline's (`lakejobs.pipeline`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakejobs.commits import Commit, made
from lakejobs.errors import UsageError
from lakejobs.inputs import Inputs
from lakejobs.job import Job, JobOutcome, Produced, RowCounts, RunContext
from lakejobs.outputs import Output, Slices, SliceValue, slice_predicate, sql_literal
from lakejobs.quality import load_suite, suite_path, validate_table
from lakejobs.tables import TableWriter

LINEAGE = "run_id"  # the column saying which run wrote a row; filled in when a frame lacks it


@dataclass(frozen=True)
class _Write:
    """One output with the rows to write and where its slices come from (None: the rows)."""

    output: Output
    rows: DataFrame
    scope: DataFrame | Collection[SliceValue | tuple[SliceValue, ...]] | None


def execute(ctx: RunContext, job: Job) -> JobOutcome:
    """Run `job`'s transform and write its outputs; its accounting is left for the caller to check."""
    inputs = Inputs(ctx, job)
    try:
        produced = job.transform(ctx, inputs)
        # Quarantines first, as every ingest has always committed: bad rows set aside, then
        # the curated write.
        first = sorted(job.writes, key=lambda output: output.counts != "quarantined")
        writes = [_planned(job, output, produced, ctx.run_id) for output in first]
        writes = [_cached(write, produced, inputs) for write in writes]
        for write in writes:
            _validate(write, produced, ctx)
        tables = ctx.writer
        done = [(write.output, _written(write, tables, ctx)) for write in writes]
    finally:
        inputs.release()
    return _outcome(produced, done)


def _planned(job: Job, output: Output, produced: Produced, run_id: str) -> _Write:
    frames = produced.frames
    unknown = sorted(set(frames) - set(job.outputs))
    if unknown:
        raise UsageError(f"{job.name} returned rows for undeclared outputs: {', '.join(unknown)}")
    if output.table not in frames:
        raise UsageError(f"{job.name} returned no rows for its output {output.table}")
    frame = frames[output.table]
    rows, scope = (frame.rows, frame.scope) if isinstance(frame, Slices) else (frame, None)
    if scope is not None and output.mode != "replace_slices":
        raise UsageError(f"{job.name}: Slices given for {output.table}, a {output.mode} output")
    if LINEAGE in output.contract.columns and LINEAGE not in rows.columns:
        rows = rows.withColumn(LINEAGE, F.lit(run_id))
    return _Write(output, rows, scope)


def _has_table_rules(table: str) -> bool:
    return suite_path(table).is_file() and bool(load_suite(table).table_rules)


def _cached(write: _Write, produced: Produced, inputs: Inputs) -> _Write:
    """Cache the rows when something besides the write reads them (their suite, weights or slices)."""
    output = write.output
    reads = (
        (produced.batch is None and _has_table_rules(output.table))
        + bool(output.weight)
        + (output.mode == "replace_slices" and bool(output.by) and write.scope is None)
    )
    if not reads:
        return write
    rows = inputs.shared(write.rows)
    return _Write(output, rows, write.scope)


def _validate(write: _Write, produced: Produced, ctx: RunContext) -> None:
    if suite_path(write.output.table).is_file():
        checked = write.rows if produced.batch is None else produced.batch
        validate_table(checked, load_suite(write.output.table), ctx.settings.max_quarantine_share)


def _slices(
    by: tuple[str, ...], scope: DataFrame | Collection[SliceValue | tuple[SliceValue, ...]]
) -> list[tuple[SliceValue, ...]]:
    if isinstance(scope, DataFrame):
        return [tuple(row) for row in scope.select(*by).distinct().collect()]
    return [value if isinstance(value, tuple) else (value,) for value in scope]


def replace_predicate(
    output: Output,
    scope: DataFrame | Collection[SliceValue | tuple[SliceValue, ...]],
    ctx: RunContext,
) -> str | None:
    """The `replaceWhere` text of a `replace_slices` write: the distinct slices of `scope`, and
    the rows the run date owns; None when there is nothing to replace."""
    parts = []
    if output.by:
        slices = _slices(output.by, scope)
        if slices:
            parts.append(slice_predicate(output.by, slices))
    if output.owned:
        parts.append(owned_predicate(output.owned, ctx))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " OR ".join(f"({p})" for p in parts)


def owned_predicate(column: str, ctx: RunContext) -> str:
    """The rows a delivery of the run date replaces as a whole: those it curated last."""
    return f"`{column}` = {sql_literal(ctx.run_date)}"


def _written(write: _Write, tables: TableWriter, ctx: RunContext) -> tuple[Commit, int]:
    """Write one output; the commit and the rows it counts for."""
    output, rows = write.output, write.rows
    contract = output.contract
    if output.mode == "replace_slices":
        predicate = replace_predicate(output, rows if write.scope is None else write.scope, ctx)
        if predicate is None:  # no slice to replace: no commit
            return Commit.none(output.table), 0
        weight = _weight(output, rows)
        commit = tables.replace_where(contract, rows, predicate)
        return commit, output.written(commit) if weight is None else weight
    if output.mode == "append":
        weight = _weight(output, rows)
        commit = tables.append(contract, rows)
        return commit, output.written(commit) if weight is None else weight
    owned = owned_predicate(output.owned, ctx) if output.owned else None
    commit = tables.merge(
        contract,
        rows,
        output.update_condition,
        insert_only=output.mode == "insert_new",
        owned=owned,
    )
    return commit, output.written(commit)


def _weight(output: Output, rows: DataFrame) -> int | None:
    """The input rows the output's rows stand for (the sum of its weight columns), or None."""
    if not output.weight:
        return None
    sums = rows.agg(*[F.sum(c) for c in output.weight]).first()
    return sum(int(value or 0) for value in (sums or ()))


def _outcome(produced: Produced, done: list[tuple[Output, tuple[Commit, int]]]) -> JobOutcome:
    written = sum(n for output, (_, n) in done if output.counts == "written")
    quarantined = sum(n for output, (_, n) in done if output.counts == "quarantined")
    duplicates = 0 if produced.good is None else produced.good - written
    counts = RowCounts(produced.rows_in, written, quarantined, duplicates)
    return JobOutcome(counts, made(*(commit for _, (commit, _) in done)))
