"""Raw delivery → curated table + quarantine: the ingestion plumbing every raw source shares.

One ingest run reads the files of one ingest date, validates each line against the source's
contract and expectation suite, fails before writing if a table-level rule breaks, then makes one
commit to the quarantine table (the date's slice replaced) and one MERGE into the curated table.
A re-delivery of a date replaces that date's contribution: keys the date owned and no longer
delivers are deleted by the same MERGE (`owned_by`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakejobs import runlog
from lakejobs.commits import Commit, made
from lakejobs.contracts import TableContract, raw_source, table_contract
from lakejobs.job import JobOutcome, RowCounts, RunContext
from lakejobs.lake import RAW_RECORD, SOURCE_FILE, read_raw_csv
from lakejobs.quality import QUARANTINED, REASONS, load_suite, validate_rows, validate_table


@dataclass(frozen=True)
class BatchStats:
    rows_in: int
    quarantined: int
    good: int


def batch_stats(staged: DataFrame) -> BatchStats:
    """Count the batch in one aggregation: rows, quarantined rows, good rows.

    Duplicates are the good rows the deduplication drops: `good` minus the rows the MERGE got,
    which needs no distinct count (a second aggregation over every key) here.
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


def delivered_keys(merged: Commit) -> int:
    """The distinct keys a delivery MERGE got: its source is one row per delivered key plus one
    tombstone per withdrawn key, and each tombstone deletes a row."""
    return merged.metric("numSourceRows") - merged.metric("numTargetRowsMatchedDeleted")


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


def replace_quarantine(ctx: RunContext, quarantine: TableContract, staged: DataFrame) -> Commit:
    """One commit replacing the run date's slice of `quarantine` with the batch's bad rows, so a
    re-run or re-delivery of a date leaves exactly its current bad records."""
    return ctx.writer.replace_where(
        quarantine,
        quarantine_rows(staged.where(F.col(QUARANTINED) == 1), ctx.run_date, ctx.run_id),
        f"ingest_date = '{ctx.run_date.isoformat()}'",
    )


def curated_rows(good: DataFrame, ingest_date: date, run_id: str) -> DataFrame:
    """Good rows with their lineage columns, bookkeeping columns dropped."""
    return good.select(
        *[c for c in good.columns if not c.startswith("_")],
        F.lit(ingest_date).alias("ingest_date"),
        F.col(SOURCE_FILE).alias("source_file"),
        F.lit(run_id).alias("run_id"),
    )


def as_last_read(ctx: RunContext, job: str, table: str) -> DataFrame | None:
    """`table` at the version the last successful run of `job` for the run date read, or None.

    What a downstream job computed its outputs from: after a re-delivery, the keys that date
    delivered before tell which outputs must be recomputed although the keys are gone now.
    """
    runs = runlog.read_runs(ctx.catalog)
    if runs is None:
        return None
    last = (
        runs.where(
            (F.col("job") == job)
            & (F.col("run_date") == F.lit(ctx.run_date))
            & (F.col("status") == "succeeded")
        )
        .orderBy(F.desc("finished_at"))
        .select(F.col("input_versions")[table].alias("version"))
        .first()
    )
    version = (last["version"] or "") if last else ""
    if not version.startswith("v"):  # never run, or the table was absent then
        return None
    location = ctx.catalog.location(table_contract(table))
    return ctx.spark.read.format("delta").option("versionAsOf", int(version[1:])).load(location)


def owned_by(run_date: date) -> str:
    """The rows a delivery of `run_date` replaces as a whole: those it curated last."""
    return f"ingest_date = DATE'{run_date.isoformat()}'"


def ingest_raw_csv(ctx: RunContext, source: str, target: str, quarantine: str) -> JobOutcome:
    """Ingest one date of raw CSV `source` into `target`, bad lines into `quarantine`.

    Later deliveries win: a key already curated from a later ingest date is not overwritten
    by a re-run of an earlier date, nor deleted when the re-run no longer delivers it.
    """
    spec = raw_source(source)
    suite = load_suite(target)
    target_contract = table_contract(target)
    quarantine_contract = table_contract(quarantine)
    keys = target_contract.primary_key

    raw = read_raw_csv(ctx.spark, spec, ctx.raw_dir(source))
    staged = validate_rows(raw, spec, suite, keys=(*keys, *target_contract.partition_by))
    # Only the quarantine shows record text: good rows do not carry it into the cache.
    staged = staged.withColumn(RAW_RECORD, F.when(F.col(QUARANTINED) == 1, F.col(RAW_RECORD)))
    staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        validate_table(staged, suite, ctx.settings.max_quarantine_share)
        stats = batch_stats(staged)
        good = staged.where(F.col(QUARANTINED) == 0)
        quarantined = replace_quarantine(ctx, quarantine_contract, staged)
        merged = ctx.writer.merge(
            target_contract,
            curated_rows(
                drop_duplicates(good.drop(RAW_RECORD), keys, prefer=(SOURCE_FILE,)),
                ctx.run_date,
                ctx.run_id,
            ),
            update_condition="s.ingest_date >= t.ingest_date",
            owned=owned_by(ctx.run_date),
        )
    finally:
        staged.unpersist()
    written = delivered_keys(merged)
    counts = RowCounts(
        rows_in=stats.rows_in,
        written=written,
        quarantined=quarantined.metric("numOutputRows"),
        duplicates=stats.good - written,
    )
    return JobOutcome(counts=counts, commits=made(quarantined, merged))
