"""ads.ingest_spend: one day of Facebook JSON lines and Google CSV → ads.spend_daily in USD.

Both media are validated against their own raw contract and suite, mapped to one vocabulary,
converted to USD at the FX rate of their date (an unknown currency is quarantined, never taken
at rate 1), then checked together. Each (media_source, date) slice delivered replaces the
earlier delivery of that slice, so a medium restating yesterday does not touch the other medium;
a re-delivery of the ingest date also removes the rows that date delivered before and no longer
does (a slice withdrawn from it).
Accounting: lines in = rows written (Delta) + quarantined (Delta) + duplicate keys dropped.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from jobs.ads.transforms import facebook_read_schema, facebook_rows, google_rows, spend_in_usd
from lakejobs import (
    Inputs,
    Job,
    Produced,
    RunContext,
    Slices,
    ingest_batch,
    quarantine,
    replace_slices,
)
from lakejobs.contracts import raw_source, table_contract
from lakejobs.ingest import curated_rows
from lakejobs.lake import SOURCE_FILE
from lakejobs.quality import QUARANTINED

TARGET, QUARANTINE = "ads.spend_daily", "ads.spend_daily_quarantine"


def transform(ctx: RunContext, inputs: Inputs) -> Produced:
    facebook, google = raw_source("facebook_spend"), raw_source("google_spend")
    rows = facebook_rows(
        inputs.raw_json_lines("facebook_spend", facebook_read_schema(facebook)), facebook
    ).unionByName(google_rows(inputs.raw_csv("google_spend"), google))
    staged = spend_in_usd(rows, inputs.table("ads.fx_rates"))
    delivered = staged.where(F.col(QUARANTINED) == 0)  # its (media_source, date) slices
    return ingest_batch(
        ctx,
        inputs,
        staged,
        (TARGET, QUARANTINE),
        table_contract(TARGET).primary_key,
        prefer=(SOURCE_FILE,),
        curate=lambda good: Slices(curated_rows(good, ctx.run_date, ctx.run_id), delivered),
    )


JOB = Job(
    name="ads.ingest_spend",
    inputs=("raw.facebook_spend", "raw.google_spend", "ads.fx_rates"),
    writes=(
        replace_slices(TARGET, by=("media_source", "date"), owned="ingest_date"),
        quarantine(QUARANTINE),
    ),
    transform=transform,
    description="Facebook + Google spend in one vocabulary, in USD; unknown currencies quarantined.",
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
