"""exams.grade: relative grades, grade cut-offs and the school report for the exams delivered.

Grades are relative within (exam_id, subject), so every exam that received scores on the run
date is re-graded over all its scores; its slices of the three output tables are replaced. After a
re-delivery of the date, the exams it delivered before are re-graded too: an exam whose rows were
withdrawn loses them from its grades (and loses its grades when no score is left).
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import functions as F

from jobs.exams.grading import (
    get_scheme,
    grade_cutoffs,
    grade_lookup,
    grade_rows,
    load_schemes,
    profile_scheme,
    score_histogram,
)
from jobs.exams.grading import school_report as school_report_of
from lakejobs.commits import made
from lakejobs.contracts import table_contract
from lakejobs.errors import DataQualityError
from lakejobs.ingest import as_last_read
from lakejobs.job import Job, JobOutcome, Param, RowCounts, RunContext
from lakejobs.pipeline import register
from lakejobs.sql import in_list

NAME = "exams.grade"

SCHEME = Param(
    "scheme",
    "str",
    "grading scheme (schemas/grading_schemes.json); default: the profile's grading_scheme",
    default=profile_scheme,
    choices=lambda: tuple(load_schemes()),
)


def run(ctx: RunContext) -> JobOutcome:
    scheme = get_scheme(str(ctx.params["scheme"]))
    scores = ctx.read_table("exams.scores")
    on_date = F.col("ingest_date") == F.lit(ctx.run_date)
    affected = scores.where(on_date).select("exam_id")
    graded_from = as_last_read(ctx, NAME, "exams.scores")
    if graded_from is not None:
        affected = affected.union(graded_from.where(on_date).select("exam_id"))
    delivered = [row.exam_id for row in affected.distinct().collect()]
    if not delivered:
        raise DataQualityError(
            f"exams.scores has no rows delivered on {ctx.run_date.isoformat()}: nothing to grade"
        )
    exams = scores.where(F.col("exam_id").isin(delivered))
    # The lookup (one row per exam, subject and distinct score) feeds all three outputs.
    lookup = grade_lookup(score_histogram(exams), scheme).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows_in = int(lookup.agg(F.sum("count")).first()[0] or 0)  # 0: every score withdrawn
        predicate = f"exam_id IN ({in_list(delivered)})"
        tables = ctx.writer
        graded = tables.replace_where(
            table_contract("exams.grades"), grade_rows(exams, lookup, scheme), predicate
        )
        cutoffs = tables.replace_where(
            table_contract("exams.grade_cutoffs"), grade_cutoffs(lookup, scheme), predicate
        )
        report = tables.replace_where(
            table_contract("exams.school_report"),
            school_report_of(exams, lookup, scheme),
            predicate,
        )
    finally:
        lookup.unpersist()
    counts = RowCounts(rows_in=rows_in, written=graded.metric("numOutputRows"))
    return JobOutcome(counts=counts, commits=made(graded, cutoffs, report))


JOB = register(
    Job(
        name=NAME,
        inputs=("exams.scores",),
        outputs=("exams.grades", "exams.grade_cutoffs", "exams.school_report"),
        run=run,
        description="Grade every exam delivered on the run date: grades, cut-offs, school report.",
        params=(SCHEME,),
    )
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
