"""ads.ingest_payments: One payments snapshot → ads.payments (MERGE on payment_id, the latest snapshot wins)."""

from __future__ import annotations

from lakejobs import raw_ingest

JOB = raw_ingest(
    "ads.ingest_payments",
    source="payments",
    target="ads.payments",
    quarantine_table="ads.payments_quarantine",
    description="Merge a payments snapshot on payment_id (a refund updates the row); quarantine bad lines.",
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
