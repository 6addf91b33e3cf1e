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

from pyspark.sql import functions as F

from jobs.ads.transforms import (
    D7_DAYS,
    DEFAULT_ROAS_FLOOR,
    campaign_roas,
    paid_in_usd,
    refresh_dates,
)
from lakejobs import Inputs, Job, Param, Produced, RunContext, Slices, replace_slices

TARGET = "ads.campaign_roas_daily"
ROAS_FLOOR = Param(
    "roas_floor",
    "float",
    "ROAS below this flags a campaign day",
    DEFAULT_ROAS_FLOOR,
    low=0.0,
    high=1e6,
)


def transform(ctx: RunContext, inputs: Inputs) -> Produced:
    spend, installs, payments = (
        inputs.table(f"ads.{t}") for t in ("spend_daily", "installs", "payments")
    )
    changed = {row.date for row in refresh_dates(spend, installs, payments, ctx.run_date).collect()}
    dates = sorted(changed | {ctx.run_date - timedelta(days=k) for k in range(1, D7_DAYS + 2)})
    spend = spend.where(F.col("date").isin(dates))
    installs = installs.where(F.to_date("install_time").isin(dates))
    paid = paid_in_usd(payments, inputs.table("ads.fx_rates"))
    result = campaign_roas(spend, installs, paid, float(ctx.params["roas_floor"]), ctx.run_date)
    return Produced({TARGET: Slices(result, dates)}, rows_in=spend.count() + installs.count())


JOB = Job(
    name="ads.campaign_roas",
    inputs=("ads.spend_daily", "ads.installs", "ads.payments", "ads.fx_rates"),
    writes=(replace_slices(TARGET, by=("date",), weight=("spend_rows", "installs")),),
    transform=transform,
    description="Daily campaign spend, CPI, D7 cohort revenue and ROAS, flagged below the floor.",
    params=(ROAS_FLOOR,),
)

if __name__ == "__main__":
    from lakejobs.cli import job_main

    job_main(JOB)
