"""ads.campaign_roas: spend, installs, CPI, D7 cohort revenue and ROAS per date and campaign.

Every date whose inputs changed with this run date's deliveries (spend, installs, payers' cohorts)
is recomputed from the curated tables, plus the last D7 window; those date slices are replaced.
Accounting: rows in = spend_daily + installs rows of the dates recomputed; written = the sum of
`spend_rows` and `installs` over the rows written (an input row a join lost fails the run).
Payments and FX rates are lookups into those rows, not counted.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from jobs.ads import transforms as ads
from lakejobs import Inputs, Job, Param, Produced, RunContext, Slices, replace_slices

TARGET = "ads.campaign_roas_daily"
FLOOR = Param(
    "roas_floor", "float", "ROAS below this flags a day", ads.DEFAULT_ROAS_FLOOR, low=0, high=1e6
)


def transform(ctx: RunContext, inputs: Inputs) -> Produced:
    spend, installs, payments, fx = map(inputs.table, JOB.inputs)
    changed = ads.refresh_dates(spend, installs, payments, ctx.run_date).collect()
    dates = sorted({row.date for row in changed} | ads.d7_window(ctx.run_date))
    spend = spend.where(F.col("date").isin(dates))
    installs = installs.where(F.to_date("install_time").isin(dates))
    paid = ads.paid_in_usd(payments, fx)
    rows = ads.campaign_roas(spend, installs, paid, float(ctx.params["roas_floor"]), ctx.run_date)
    return Produced({TARGET: Slices(rows, dates)}, rows_in=spend.count() + installs.count())


JOB = Job(
    name="ads.campaign_roas",
    inputs=("ads.spend_daily", "ads.installs", "ads.payments", "ads.fx_rates"),
    writes=(replace_slices(TARGET, by=("date",), weight=("spend_rows", "installs")),),
    transform=transform,
    description="Daily campaign spend, CPI, D7 cohort revenue and ROAS, flagged below the floor.",
    params=(FLOOR,),
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
