"""exams.ingest_scores: one ingest date of raw score files → exams.scores (+ quarantine)."""

from __future__ import annotations

from lakejobs import raw_ingest

JOB = raw_ingest(
    "exams.ingest_scores",
    source="exam_scores",
    target="exams.scores",
    quarantine_table="exams.scores_quarantine",
    description="Validate and deduplicate raw exam scores; quarantine bad lines with reasons.",
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
