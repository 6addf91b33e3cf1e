"""ads.creative_ab_test: CTR per creative variant against the campaign's control, with a z-test.

A test spans a campaign's whole history, so every campaign with spend delivered on the run date
is recomputed over all its dates and its rows are replaced.
Accounting: an output row aggregates `spend_rows` rows of ads.spend_daily, so rows in = the
spend rows of the campaigns recomputed and written = the sum of `spend_rows` written.
"""

from __future__ import annotations

from collections import defaultdict

from pyspark import StorageLevel
from pyspark.sql import functions as F

from jobs.ads.transforms import DEFAULT_SIGNIFICANCE, creative_ab_test, slice_predicate
from lakejobs.commits import made
from lakejobs.contracts import table_contract
from lakejobs.errors import DataQualityError
from lakejobs.job import Job, JobOutcome, Param, RowCounts, RunContext
from lakejobs.pipeline import register
from lakejobs.quality import load_suite, validate_table

TARGET = "ads.creative_ab_test"
SIGNIFICANCE = Param(
    "significance",
    "float",
    "two-sided p-value below which a variant wins or loses",
    default=DEFAULT_SIGNIFICANCE,
    low=1e-12,
    high=0.5,
)


def run(ctx: RunContext) -> JobOutcome:
    significance = float(ctx.params["significance"])
    spend = ctx.read_table("ads.spend_daily")
    campaigns: dict[str, set[str]] = defaultdict(set)
    delivered = spend.where(F.col("ingest_date") == F.lit(ctx.run_date))
    for row in delivered.select("media_source", "campaign_id").distinct().collect():
        campaigns[row.media_source].add(row.campaign_id)
    if not campaigns:
        raise DataQualityError(
            f"ads.spend_daily has no rows delivered on {ctx.run_date.isoformat()}: nothing to test"
        )
    predicate = slice_predicate("campaign_id", campaigns)
    scope = spend.where(predicate)
    result = (
        creative_ab_test(scope, significance)
        .withColumn("run_id", F.lit(ctx.run_id))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        validate_table(result, load_suite(TARGET), ctx.settings.max_quarantine_share)
        written = int(result.agg(F.sum("spend_rows")).first()[0])
        commit = ctx.writer.replace_where(table_contract(TARGET), result, predicate)
    finally:
        result.unpersist()
    counts = RowCounts(rows_in=scope.count(), written=written)
    return JobOutcome(counts=counts, commits=made(commit))


JOB = register(
    Job(
        name="ads.creative_ab_test",
        inputs=("ads.spend_daily",),
        outputs=(TARGET,),
        run=run,
        description="Creative A/B tests: CTR per variant, z-test p-value against control, winner.",
        params=(SIGNIFICANCE,),
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
