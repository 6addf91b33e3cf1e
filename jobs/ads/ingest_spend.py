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

from collections import defaultdict

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.ads.transforms import (
    facebook_read_schema,
    facebook_spend_rows,
    facebook_staged,
    google_spend_rows,
    slice_predicate,
    spend_in_usd,
)
from lakejobs.commits import made
from lakejobs.contracts import raw_source, table_contract
from lakejobs.ingest import (
    batch_stats,
    curated_rows,
    drop_duplicates,
    owned_by,
    replace_quarantine,
)
from lakejobs.job import Job, JobOutcome, RowCounts, RunContext
from lakejobs.jsonlines import read_raw_json_lines
from lakejobs.lake import RAW_RECORD, SOURCE_FILE, read_raw_csv
from lakejobs.pipeline import register
from lakejobs.quality import QUARANTINED, load_suite, validate_rows, validate_table

TARGET = "ads.spend_daily"


def read_facebook(ctx: RunContext) -> DataFrame:
    source = raw_source("facebook_spend")
    raw = read_raw_json_lines(ctx.spark, ctx.raw_dir(source.source), facebook_read_schema(source))
    validated = validate_rows(
        facebook_staged(raw, source), source, load_suite(f"{TARGET}.facebook")
    )
    return facebook_spend_rows(validated)


def read_google(ctx: RunContext) -> DataFrame:
    source = raw_source("google_spend")
    raw = read_raw_csv(ctx.spark, source, ctx.raw_dir(source.source))
    return google_spend_rows(validate_rows(raw, source, load_suite(f"{TARGET}.google")))


def run(ctx: RunContext) -> JobOutcome:
    contract = table_contract(TARGET)
    quarantine_contract = table_contract(f"{TARGET}_quarantine")
    keys = contract.primary_key
    rows = read_facebook(ctx).unionByName(read_google(ctx))
    staged = spend_in_usd(rows, ctx.read_table("ads.fx_rates"))
    staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        validate_table(staged, load_suite(TARGET), ctx.settings.max_quarantine_share)
        stats = batch_stats(staged)
        good = staged.where(F.col(QUARANTINED) == 0)
        dates: dict[str, set[str]] = defaultdict(set)
        for row in good.select("media_source", "date").distinct().collect():
            dates[row.media_source].add(row.date.isoformat())
        quarantined = replace_quarantine(ctx, quarantine_contract, staged)
        written = ctx.writer.replace_where(
            contract,
            curated_rows(
                drop_duplicates(good.drop(RAW_RECORD), keys, prefer=(SOURCE_FILE,)),
                ctx.run_date,
                ctx.run_id,
            ),
            f"({slice_predicate('date', dates)}) OR {owned_by(ctx.run_date)}",
        )
    finally:
        staged.unpersist()
    counts = RowCounts(
        rows_in=stats.rows_in,
        written=written.metric("numOutputRows"),
        quarantined=quarantined.metric("numOutputRows"),
        duplicates=stats.good - written.metric("numOutputRows"),
    )
    return JobOutcome(counts=counts, commits=made(quarantined, written))


JOB = register(
    Job(
        name="ads.ingest_spend",
        inputs=("raw.facebook_spend", "raw.google_spend", "ads.fx_rates"),
        outputs=(TARGET, f"{TARGET}_quarantine"),
        run=run,
        description="Facebook + Google spend in one vocabulary, in USD; unknown currencies quarantined.",
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
