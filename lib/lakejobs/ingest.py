"""Raw delivery → curated table + quarantine: the ingestion plumbing every raw source shares.

One ingest run reads the files of one ingest date, validates each line against the source's
contract and expectation suite, fails before writing if a table-level rule breaks, then makes one
commit to the quarantine table (the date's slice replaced) and one MERGE into the curated table.
A re-delivery of a date replaces that date's contribution: keys the date owned and no longer
delivers are deleted by the same MERGE (the output's `owned="ingest_date"`). `raw_ingest`
declares such a job for a CSV source in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakejobs.contracts import raw_source, table_contract
from lakejobs.inputs import Inputs
from lakejobs.job import Job, Produced, RunContext
from lakejobs.lake import RAW_RECORD, SOURCE_FILE
from lakejobs.outputs import Output, Slices, merge, replace_slices
from lakejobs.quality import QUARANTINED, REASONS, load_suite, validate_rows


@dataclass(frozen=True)
class BatchStats:
    rows_in: int
    quarantined: int
    good: int


def batch_stats(staged: DataFrame) -> BatchStats:
    """Count the batch in one aggregation: rows, quarantined rows, good rows.

    Duplicates are the good rows the deduplication drops: `good` minus the rows the write took
    in (`Produced.good`), which needs no distinct count (a second aggregation over every key).
    """
    good = F.col(QUARANTINED) == 0
    row = staged.agg(
        F.count(F.lit(1)).alias("rows_in"),
        F.sum(QUARANTINED).alias("quarantined"),
        F.count(F.when(good, F.lit(1))).alias("good"),
    ).first()
    assert row is not None  # a global aggregation always returns one row
    return BatchStats(
        rows_in=int(row["rows_in"]),
        quarantined=int(row["quarantined"] or 0),
        good=int(row["good"]),
    )


def drop_duplicates(df: DataFrame, keys: tuple[str, ...], prefer: tuple[str, ...]) -> DataFrame:
    """Keep one row per key: the one with the greatest `prefer` values, ties broken by the
    greatest values of its other columns.

    Deterministic whatever the partitioning, so a re-run keeps the same row (unlike
    `dropDuplicates`, which keeps an arbitrary one). The order is on the parsed values, so the
    raw record text need not travel through the shuffle.
    """
    rest = [c for c in df.columns if c not in keys and c not in prefer]
    best = F.max(F.struct(*prefer, *rest))
    return df.groupBy(*keys).agg(best.alias("_best")).select(*keys, "_best.*").select(*df.columns)


def quarantine_rows(bad: DataFrame, ingest_date: date, run_id: str) -> DataFrame:
    """Quarantine records: the raw line, why it failed, where it came from, which run saw it."""
    return bad.select(
        F.lit(ingest_date).alias("ingest_date"),
        F.col(SOURCE_FILE).alias("source_file"),
        F.col(RAW_RECORD).alias("raw_record"),
        F.col(REASONS).alias("reasons"),
        F.lit(run_id).alias("run_id"),
    )


def curated_rows(good: DataFrame, ingest_date: date, run_id: str) -> DataFrame:
    """Good rows with their lineage columns, bookkeeping columns dropped."""
    return good.select(
        *[c for c in good.columns if not c.startswith("_")],
        F.lit(ingest_date).alias("ingest_date"),
        F.col(SOURCE_FILE).alias("source_file"),
        F.lit(run_id).alias("run_id"),
    )


def quarantine(table: str) -> Output:
    """A quarantine table: the run date's slice replaced by the batch's bad rows in one commit,
    so a re-run or re-delivery of a date leaves exactly its current bad records."""
    return replace_slices(table, owned="ingest_date", counts="quarantined")


def bad_rows(staged: DataFrame, ctx: RunContext) -> DataFrame:
    """The quarantined rows of a validated batch, as quarantine records of this run."""
    return quarantine_rows(staged.where(F.col(QUARANTINED) == 1), ctx.run_date, ctx.run_id)


def ingest_batch(
    ctx: RunContext,
    inputs: Inputs,
    staged: DataFrame,
    outputs: tuple[str, str],
    keys: tuple[str, ...],
    prefer: tuple[str, ...],
    curate: Callable[[DataFrame], DataFrame | Slices],
) -> Produced:
    """An ingest's outputs from its validated batch `staged`: the good rows deduplicated on
    `keys` and curated by `curate` into the first of `outputs`, the bad rows into the second
    (its quarantine). The batch is shared and counted once; the raw record text travels
    through the deduplication only when it breaks ties (`prefer`)."""
    target, quarantine_table = outputs
    staged = inputs.shared(staged)
    stats = batch_stats(staged)
    good = staged.where(F.col(QUARANTINED) == 0)
    if RAW_RECORD not in prefer:
        good = good.drop(RAW_RECORD)
    frames = {
        target: curate(drop_duplicates(good, keys, prefer)),
        quarantine_table: bad_rows(staged, ctx),
    }
    return Produced(frames, rows_in=stats.rows_in, good=stats.good, batch=staged)


def raw_ingest(name: str, source: str, target: str, quarantine_table: str, description: str) -> Job:
    """A job ingesting one date of raw CSV `source` into `target`, bad lines into
    `quarantine_table`, MERGEd on the target's primary key.

    Later deliveries win: a key already curated from a later ingest date is not overwritten
    by a re-run of an earlier date, nor deleted when the re-run no longer delivers it.
    """
    contract = table_contract(target)
    keys = contract.primary_key

    def transform(ctx: RunContext, inputs: Inputs) -> Produced:
        suite = load_suite(target)
        raw = inputs.raw_csv(source)
        staged = validate_rows(raw, raw_source(source), suite, keys=(*keys, *contract.partition_by))
        # Only the quarantine shows record text: good rows do not carry it into the cache.
        staged = staged.withColumn(RAW_RECORD, F.when(F.col(QUARANTINED) == 1, F.col(RAW_RECORD)))
        return ingest_batch(
            ctx,
            inputs,
            staged,
            (target, quarantine_table),
            keys,
            prefer=(SOURCE_FILE,),
            curate=lambda good: curated_rows(good, ctx.run_date, ctx.run_id),
        )

    return Job(
        name=name,
        inputs=(f"raw.{source}",),
        writes=(
            merge(
                target, keys, update_condition="s.ingest_date >= t.ingest_date", owned="ingest_date"
            ),
            quarantine(quarantine_table),
        ),
        transform=transform,
        description=description,
    )
