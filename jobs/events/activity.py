"""events.activity: daily active users and cohort retention for what a delivery changed.

Only the event dates a delivery added events to, and the cohorts of the users it touched, are
recomputed (over all of events.events) and replaced with `replaceWhere`; nothing else changes.
After a re-delivery of the date, the dates and cohorts its earlier delivery touched are
recomputed too, so the events it withdrew leave the counts.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from jobs.events.transforms import activity_rows, daily_active_users, retention, touched
from lakejobs import Inputs, Job, Param, Produced, RunContext, Slices, replace_slices

DAU, RETENTION = "events.daily_active_users", "events.retention"
RETENTION_DAYS = Param(
    "retention_days", "int", "last day_n of the retention curve", default=30, low=1, high=366
)


def transform(ctx: RunContext, inputs: Inputs) -> Produced:
    max_day = int(ctx.params["retention_days"])
    # The three columns every step reads, scanned once (retention needs every user's history).
    events = inputs.shared(
        inputs.table("events.events").select("user_key", "event_date", "ingest_date")
    )
    dates_of, cohorts_of = touched(events, inputs.as_last_read("events.events"), ctx.run_date)
    dates = [r.event_date for r in dates_of.collect()]
    # A delivery of duplicates only changes nothing.
    cohorts = [r.cohort_date for r in cohorts_of.collect()] if dates else []
    frames = {
        DAU: Slices(daily_active_users(events.where(F.col("event_date").isin(dates))), dates),
        RETENTION: Slices(retention(events, max_day, cohorts), cohorts),
    }
    return Produced(frames, rows_in=activity_rows(events, dates, cohorts, max_day) if dates else 0)


JOB = Job(
    name="events.activity",
    inputs=("events.events",),
    writes=(
        replace_slices(DAU, by=("event_date",)),
        replace_slices(RETENTION, by=("cohort_date",)),
    ),
    transform=transform,
    description="Recompute daily active users and cohort retention for the dates and cohorts a delivery touched.",
    params=(RETENTION_DAYS,),
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
