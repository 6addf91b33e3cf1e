"""events.ingest_events: one ingest date of raw event lines → events.events (+ quarantine).

Deliveries are at-least-once, so an event_id already curated (from any date) is never inserted
again: the batch is deduplicated, then written with an insert-only MERGE on event_id, which adds
files only to the event_date partitions of the new events and rewrites none.
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.events.transforms import RAW_JSON_SCHEMA, canonical_events, curated_events
from lakejobs.config import Settings
from lakejobs.contracts import TableContract, raw_source, table_contract
from lakejobs.ingest import batch_stats, drop_duplicates, quarantine_rows
from lakejobs.job import Job, JobOutcome, RowCounts, RunContext
from lakejobs.jsonlines import read_raw_json_lines
from lakejobs.lake import RAW_RECORD, SOURCE_FILE
from lakejobs.pipeline import register
from lakejobs.pseudonym import load_key
from lakejobs.quality import QUARANTINED, load_suite, validate_rows, validate_table
from lakejobs.tables import Commit, CuratedTables, conform

SOURCE = "events"
TARGET = "events.events"
QUARANTINE = "events.events_quarantine"
KEY = ("event_id",)


def insert_new(tables: CuratedTables, contract: TableContract, df: DataFrame) -> Commit | None:
    """Insert the rows of `df` whose primary key is not in the table yet, in one commit.

    None when there is nothing new: Delta then makes no commit at all.
    """
    tables.ensure(contract)
    before = tables.version(contract)
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in contract.primary_key)
    (
        DeltaTable.forPath(tables.spark, tables.location(contract))
        .alias("t")
        .merge(conform(df, contract).alias("s"), on)
        .whenNotMatchedInsertAll()
        .execute()
    )
    commit = tables.last_commit(contract)
    return None if commit.version == before else commit


def already_curated(ctx: RunContext, contract: TableContract, batch: DataFrame) -> int:
    """How many distinct keys of `batch` the table holds already (earlier deliveries)."""
    if not ctx.tables.exists(contract):
        return 0
    existing = ctx.read_table(contract.name).select(*contract.primary_key)
    return batch.join(existing, list(contract.primary_key), "left_semi").count()


def require_key(settings: Settings) -> None:
    """Preflight: the pseudonym key is set and long enough (checked again when it is used)."""
    load_key()


def run(ctx: RunContext) -> JobOutcome:
    key = load_key()  # first: without the key nothing may be read or written
    suite = load_suite(TARGET)
    target, quarantine = table_contract(TARGET), table_contract(QUARANTINE)
    raw = read_raw_json_lines(ctx.spark, ctx.raw_dir(SOURCE), RAW_JSON_SCHEMA)
    staged = validate_rows(canonical_events(raw), raw_source(SOURCE), suite)
    staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        validate_table(staged, suite, ctx.settings.max_quarantine_share)
        stats = batch_stats(staged, KEY)
        good = drop_duplicates(
            staged.where(F.col(QUARANTINED) == 0), KEY, tie_breaker=(SOURCE_FILE, RAW_RECORD)
        )
        batch = curated_events(good, key, ctx.run_date, ctx.run_id)
        batch = batch.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            present = already_curated(ctx, target, batch)
            quarantined = ctx.tables.replace_where(
                quarantine,
                quarantine_rows(staged.where(F.col(QUARANTINED) == 1), ctx.run_date, ctx.run_id),
                f"ingest_date = '{ctx.run_date.isoformat()}'",
            )
            inserted = insert_new(ctx.tables, target, batch)
        finally:
            batch.unpersist()
    finally:
        staged.unpersist()
    counts = RowCounts(
        rows_in=stats.rows_in,
        written=inserted.metric("numTargetRowsInserted") if inserted else 0,
        quarantined=quarantined.metric("numOutputRows"),
        duplicates=(stats.good - stats.distinct_keys) + present,
    )
    commits = (quarantined, inserted) if inserted else (quarantined,)
    return JobOutcome(counts=counts, commits=commits)


JOB = register(
    Job(
        name="events.ingest_events",
        inputs=("raw.events",),
        outputs=(TARGET, QUARANTINE),
        run=run,
        description="Validate, deduplicate (across deliveries) and pseudonymise raw service events.",
        preflight=(require_key,),
    )
)

if __name__ == "__main__":
    from lakejobs.cli import job_main

    job_main(JOB)
