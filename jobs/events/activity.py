"""events.activity: daily active users and cohort retention for what a delivery changed.

Only the event dates a delivery added events to, and the cohorts of the users it touched, are
recomputed (over all of events.events) and replaced with `replaceWhere`; nothing else changes.
After a re-delivery of the date, the dates and cohorts its earlier delivery touched are
recomputed too, so the events it withdrew leave the counts.
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.events.transforms import daily_active_users, retention, touched_cohorts
from lakejobs.commits import made
from lakejobs.contracts import table_contract
from lakejobs.ingest import as_last_read
from lakejobs.job import Job, JobOutcome, Param, RowCounts, RunContext
from lakejobs.pipeline import register
from lakejobs.sql import in_list

DAU = "events.daily_active_users"
RETENTION = "events.retention"
MAX_RETENTION_DAYS = 366
NAME = "events.activity"


RETENTION_DAYS = Param(
    "retention_days",
    "int",
    "last day_n of the retention curve",
    default=30,
    low=1,
    high=MAX_RETENTION_DAYS,
)


def _with_run(df: DataFrame, run_id: str) -> DataFrame:
    return df.withColumn("run_id", F.lit(run_id))


def run(ctx: RunContext) -> JobOutcome:
    max_day = int(ctx.params["retention_days"])
    # The three columns every step reads, scanned once (retention needs every user's history).
    events = ctx.read_table("events.events").select("user_key", "event_date", "ingest_date")
    events = events.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        on_date = F.col("ingest_date") == F.lit(ctx.run_date)
        touched_dates = events.where(on_date).select("event_date")
        cohorts_of = touched_cohorts(events, ctx.run_date)
        before = as_last_read(ctx, NAME, "events.events")
        if before is not None:
            before = before.select("user_key", "event_date", "ingest_date")
            touched_dates = touched_dates.union(before.where(on_date).select("event_date"))
            cohorts_of = cohorts_of.union(touched_cohorts(before, ctx.run_date))
        dates = [r.event_date for r in touched_dates.distinct().collect()]
        if not dates:  # a delivery of duplicates only changes nothing
            return JobOutcome(counts=RowCounts(rows_in=0, written=0))
        cohorts = [r.cohort_date for r in cohorts_of.distinct().collect()]
        # A date or cohort whose only events a re-delivery withdrew has no rows any more: it
        # leaves the tables, and the expected row count counts only those still there.
        live_dates = events.where(F.col("event_date").isin(dates)).select("event_date")
        live_cohorts = retention(events, 0, cohorts).select("cohort_date")
        expected = live_dates.distinct().count() + live_cohorts.distinct().count() * (max_day + 1)
        dau = ctx.writer.replace_where(
            table_contract(DAU),
            _with_run(
                daily_active_users(events.where(F.col("event_date").isin(dates))), ctx.run_id
            ),
            f"event_date IN ({in_list(d.isoformat() for d in dates)})",
        )
        kept = ctx.writer.replace_where(
            table_contract(RETENTION),
            _with_run(retention(events, max_day, cohorts), ctx.run_id),
            f"cohort_date IN ({in_list(c.isoformat() for c in cohorts)})",
        )
    finally:
        events.unpersist()
    counts = RowCounts(
        rows_in=expected,
        written=dau.metric("numOutputRows") + kept.metric("numOutputRows"),
    )
    return JobOutcome(counts=counts, commits=made(dau, kept))


JOB = register(
    Job(
        name=NAME,
        inputs=("events.events",),
        outputs=(DAU, RETENTION),
        run=run,
        description="Recompute daily active users and cohort retention for the dates and cohorts a delivery touched.",
        params=(RETENTION_DAYS,),
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
