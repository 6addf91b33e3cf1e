"""events.ingest_events: one ingest date of raw event lines → events.events (+ quarantine).

Deliveries are at-least-once, so an event_id already curated (from any date) is never inserted
again: the batch is deduplicated, then written with an insert-only MERGE on event_id, which adds
files only to the event_date partitions of the new events. A re-delivery of a date replaces what
that date curated: an event_id first curated from it and absent from the re-delivery is deleted
in the same MERGE (rewriting only the files of its event_date partitions).
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import functions as F

from jobs.events.transforms import RAW_JSON_SCHEMA, canonical_events, curated_events
from lakejobs.commits import made
from lakejobs.config import Settings
from lakejobs.contracts import raw_source, table_contract
from lakejobs.ingest import (
    batch_stats,
    drop_duplicates,
    owned_by,
    replace_quarantine,
)
from lakejobs.job import Job, JobOutcome, RowCounts, RunContext
from lakejobs.jsonlines import read_raw_json_lines
from lakejobs.lake import RAW_RECORD, SOURCE_FILE
from lakejobs.pipeline import register
from lakejobs.pseudonym import load_key
from lakejobs.quality import QUARANTINED, load_suite, validate_rows, validate_table

SOURCE = "events"
TARGET = "events.events"
QUARANTINE = "events.events_quarantine"
KEY = ("event_id",)


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
        stats = batch_stats(staged)
        good = drop_duplicates(
            staged.where(F.col(QUARANTINED) == 0), KEY, prefer=(SOURCE_FILE, RAW_RECORD)
        )
        quarantined = replace_quarantine(ctx, quarantine, staged)
        inserted = ctx.writer.merge(
            target,
            curated_events(good, key, ctx.run_date, ctx.run_id),
            insert_only=True,
            owned=owned_by(ctx.run_date),
        )
    finally:
        staged.unpersist()
    written = inserted.metric("numTargetRowsInserted")
    counts = RowCounts(
        rows_in=stats.rows_in,
        written=written,
        quarantined=quarantined.metric("numOutputRows"),
        # Good rows not inserted: repeated in the delivery or curated by an earlier one.
        duplicates=stats.good - written,
    )
    return JobOutcome(counts=counts, commits=made(quarantined, inserted))


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
    from lakejobs.entry import job_main

    job_main(JOB)
