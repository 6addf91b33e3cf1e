"""ads.ingest_installs: One day of attribution installs → ads.installs (one row per user)."""

from __future__ import annotations

from lakejobs.ingest import ingest_raw_csv
from lakejobs.job import Job, JobOutcome, RunContext
from lakejobs.pipeline import register


def run(ctx: RunContext) -> JobOutcome:
    return ingest_raw_csv(
        ctx, source="installs", target="ads.installs", quarantine="ads.installs_quarantine"
    )


JOB = register(
    Job(
        name="ads.ingest_installs",
        inputs=("raw.installs",),
        outputs=("ads.installs", "ads.installs_quarantine"),
        run=run,
        description="Validate and deduplicate attributed installs; quarantine bad lines with reasons.",
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
