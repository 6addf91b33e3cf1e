"""ads.campaign_roas: spend, installs, CPI, D7 cohort revenue and ROAS per date and campaign.

Every date whose inputs changed with this run date's deliveries (spend, installs, payers' cohorts)
is recomputed from the curated tables, plus the last D7 window, whose `d7_complete` flag turns
with the run date; those date slices are replaced.
Accounting: an output row aggregates spend_daily rows (`spend_rows`) and install rows
(`installs`), so rows in = spend_daily rows + installs rows of the dates recomputed, and written
= the sum of both columns over the rows written: any input row a join lost fails the run.
Payments and FX rates are lookups into those rows, not counted.
"""

from __future__ import annotations

from datetime import timedelta

from pyspark import StorageLevel
from pyspark.sql import functions as F

from jobs.ads.transforms import (
    D7_DAYS,
    DEFAULT_ROAS_FLOOR,
    campaign_roas,
    paid_in_usd,
    refresh_dates,
)
from lakejobs.commits import made
from lakejobs.contracts import table_contract
from lakejobs.errors import DataQualityError
from lakejobs.job import Job, JobOutcome, Param, RowCounts, RunContext
from lakejobs.pipeline import register
from lakejobs.quality import load_suite, validate_table
from lakejobs.sql import in_list

TARGET = "ads.campaign_roas_daily"
ROAS_FLOOR = Param(
    "roas_floor",
    "float",
    "ROAS below this flags a campaign day",
    default=DEFAULT_ROAS_FLOOR,
    low=0.0,
    high=1e6,
)


def run(ctx: RunContext) -> JobOutcome:
    floor = float(ctx.params["roas_floor"])
    spend = ctx.read_table("ads.spend_daily")
    installs = ctx.read_table("ads.installs")
    payments = ctx.read_table("ads.payments")
    changed = {row.date for row in refresh_dates(spend, installs, payments, ctx.run_date).collect()}
    window = {ctx.run_date - timedelta(days=k) for k in range(1, D7_DAYS + 2)}
    dates = [d.isoformat() for d in sorted(changed | window)]
    spend = spend.where(F.col("date").isin(dates))
    installs = installs.where(F.to_date("install_time").isin(dates))
    paid = paid_in_usd(payments, ctx.read_table("ads.fx_rates"))
    result = (
        campaign_roas(spend, installs, paid, floor, ctx.run_date)
        .withColumn("run_id", F.lit(ctx.run_id))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        aggregated = result.agg(F.sum("spend_rows"), F.sum("installs")).first()
        if aggregated[0] is None:
            raise DataQualityError(
                f"{TARGET}: no spend or installs on the dates to recompute for "
                f"{ctx.run_date.isoformat()}: nothing written"
            )
        validate_table(result, load_suite(TARGET), ctx.settings.max_quarantine_share)
        commit = ctx.writer.replace_where(
            table_contract(TARGET), result, f"date IN ({in_list(dates)})"
        )
    finally:
        result.unpersist()
    counts = RowCounts(
        rows_in=spend.count() + installs.count(),
        written=int(aggregated[0]) + int(aggregated[1]),
    )
    return JobOutcome(counts=counts, commits=made(commit))


JOB = register(
    Job(
        name="ads.campaign_roas",
        inputs=("ads.spend_daily", "ads.installs", "ads.payments", "ads.fx_rates"),
        outputs=(TARGET,),
        run=run,
        description="Daily campaign spend, CPI, D7 cohort revenue and ROAS, flagged below the floor.",
        params=(ROAS_FLOOR,),
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
