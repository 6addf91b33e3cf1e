"""events.ingest_events: one ingest date of raw event lines → events.events (+ quarantine).

Deliveries are at-least-once, so an event_id already curated (from any date) is never inserted
again: the batch is deduplicated, then written with an insert-only MERGE on event_id, which adds
files only to the event_date partitions of the new events. A re-delivery of a date replaces what
that date curated: an event_id first curated from it and absent from the re-delivery is deleted
in the same MERGE (rewriting only the files of its event_date partitions).
"""

from __future__ import annotations

from jobs.events.transforms import RAW_JSON_SCHEMA, canonical_events, curated_events
from lakejobs import Inputs, Job, Produced, RunContext, ingest_batch, insert_new, quarantine
from lakejobs.config import Settings
from lakejobs.contracts import raw_source
from lakejobs.lake import RAW_RECORD, SOURCE_FILE
from lakejobs.pseudonym import load_key
from lakejobs.quality import load_suite, validate_rows

TARGET, QUARANTINE, KEY = "events.events", "events.events_quarantine", ("event_id",)


def require_key(settings: Settings) -> None:
    """Preflight: the pseudonym key is set and long enough (checked again when it is used)."""
    load_key()


def transform(ctx: RunContext, inputs: Inputs) -> Produced:
    key = load_key()  # first: without the key nothing may be read or written
    raw = inputs.raw_json_lines("events", RAW_JSON_SCHEMA)
    staged = validate_rows(canonical_events(raw), raw_source("events"), load_suite(TARGET))
    return ingest_batch(
        ctx,
        inputs,
        staged,
        (TARGET, QUARANTINE),
        KEY,
        prefer=(SOURCE_FILE, RAW_RECORD),
        # Good rows not inserted (repeated in the delivery or curated by an earlier one) are
        # the duplicates.
        curate=lambda good: curated_events(good, key, ctx.run_date, ctx.run_id),
    )


JOB = Job(
    name="events.ingest_events",
    inputs=("raw.events",),
    writes=(insert_new(TARGET, KEY, owned="ingest_date"), quarantine(QUARANTINE)),
    transform=transform,
    description="Validate, deduplicate (across deliveries) and pseudonymise raw service events.",
    preflight=(require_key,),
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
