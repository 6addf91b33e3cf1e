"""ads.ingest_installs: One day of attribution installs → ads.installs (one row per user)."""

from __future__ import annotations

from lakejobs import raw_ingest

JOB = raw_ingest(
    "ads.ingest_installs",
    source="installs",
    target="ads.installs",
    quarantine_table="ads.installs_quarantine",
    description="Validate and deduplicate attributed installs; quarantine bad lines with reasons.",
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
