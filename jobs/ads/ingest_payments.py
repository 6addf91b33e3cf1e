"""ads.ingest_payments: One payments snapshot → ads.payments (MERGE on payment_id, the latest snapshot wins)."""

from __future__ import annotations

from lakejobs.ingest import ingest_raw_csv
from lakejobs.job import Job, JobOutcome, RunContext
from lakejobs.pipeline import register


def run(ctx: RunContext) -> JobOutcome:
    return ingest_raw_csv(
        ctx, source="payments", target="ads.payments", quarantine="ads.payments_quarantine"
    )


JOB = register(
    Job(
        name="ads.ingest_payments",
        inputs=("raw.payments",),
        outputs=("ads.payments", "ads.payments_quarantine"),
        run=run,
        description="Merge a payments snapshot on payment_id (a refund updates the row); quarantine bad lines.",
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
