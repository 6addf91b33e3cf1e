"""ads.ingest_fx: One FX delivery → ads.fx_rates (MERGE on date and currency, the latest delivery wins)."""

from __future__ import annotations

from lakejobs.ingest import ingest_raw_csv
from lakejobs.job import Job, JobOutcome, RunContext
from lakejobs.pipeline import register


def run(ctx: RunContext) -> JobOutcome:
    return ingest_raw_csv(
        ctx, source="fx_rates", target="ads.fx_rates", quarantine="ads.fx_rates_quarantine"
    )


JOB = register(
    Job(
        name="ads.ingest_fx",
        inputs=("raw.fx_rates",),
        outputs=("ads.fx_rates", "ads.fx_rates_quarantine"),
        run=run,
        description="Load daily FX rates (USD per unit) keyed by date and currency; quarantine bad lines.",
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
