"""ads.creative_ab_test: CTR per creative variant against the campaign's control, with a z-test.

A test spans a campaign's whole history, so every campaign with spend delivered on the run date
is recomputed over all its dates and its rows are replaced.
Accounting: an output row aggregates `spend_rows` rows of ads.spend_daily, so rows in = the
spend rows of the campaigns recomputed and written = the sum of `spend_rows` written.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from jobs.ads import transforms as ads
from lakejobs import DataQualityError, Inputs, Job, Param, Produced, RunContext, replace_slices

TARGET, CAMPAIGN = "ads.creative_ab_test", ("media_source", "campaign_id")
SIGNIFICANCE = Param(
    "significance",
    "float",
    "two-sided p-value below which a variant wins or loses",
    default=ads.DEFAULT_SIGNIFICANCE,
    low=1e-12,
    high=0.5,
)


def transform(ctx: RunContext, inputs: Inputs) -> Produced:
    spend = inputs.table("ads.spend_daily")
    campaigns = spend.where(F.col("ingest_date") == F.lit(ctx.run_date)).select(*CAMPAIGN)
    if campaigns.isEmpty():
        raise DataQualityError(
            f"ads.spend_daily has no rows delivered on {ctx.run_date}: nothing to test"
        )
    scope = spend.join(campaigns.distinct(), list(CAMPAIGN), "left_semi")
    rows = ads.creative_ab_test(scope, float(ctx.params["significance"]))
    return Produced({TARGET: rows}, rows_in=scope.count())


JOB = Job(
    name="ads.creative_ab_test",
    inputs=("ads.spend_daily",),
    # Every campaign tested has rows: the slices replaced are those of the rows written.
    writes=(replace_slices(TARGET, by=CAMPAIGN, weight=("spend_rows",)),),
    transform=transform,
    description="Creative A/B tests: CTR per variant, z-test p-value against control, winner.",
    params=(SIGNIFICANCE,),
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
