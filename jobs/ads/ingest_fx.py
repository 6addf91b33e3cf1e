"""ads.ingest_fx: One FX delivery → ads.fx_rates (MERGE on date and currency, the latest delivery wins)."""

from __future__ import annotations

from lakejobs import raw_ingest

JOB = raw_ingest(
    "ads.ingest_fx",
    source="fx_rates",
    target="ads.fx_rates",
    quarantine_table="ads.fx_rates_quarantine",
    description="Load daily FX rates (USD per unit) keyed by date and currency; quarantine bad lines.",
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
