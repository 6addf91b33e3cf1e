"""exams.ingest_scores: one ingest date of raw score files → exams.scores (+ quarantine)."""

from __future__ import annotations

from lakejobs.ingest import ingest_raw_csv
from lakejobs.job import Job, JobOutcome, RunContext
from lakejobs.pipeline import register


def run(ctx: RunContext) -> JobOutcome:
    return ingest_raw_csv(
        ctx, source="exam_scores", target="exams.scores", quarantine="exams.scores_quarantine"
    )


JOB = register(
    Job(
        name="exams.ingest_scores",
        inputs=("raw.exam_scores",),
        outputs=("exams.scores", "exams.scores_quarantine"),
        run=run,
        description="Validate and deduplicate raw exam scores; quarantine bad lines with reasons.",
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
