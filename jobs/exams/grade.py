"""exams.grade: relative grades, grade cut-offs and the school report for the exams delivered.

Grades are relative within (exam_id, subject), so every exam that received scores on the run
date is re-graded over all its scores; its slices of the three output tables are replaced. After a
re-delivery of the date, the exams it delivered before are re-graded too: an exam whose rows were
withdrawn loses them from its grades (and loses its grades when no score is left).
"""

from __future__ import annotations

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
from jobs.exams.transforms import exams_to_grade
from lakejobs import Inputs, Job, Param, Produced, RunContext, Slices, replace_slices
from lakejobs.errors import DataQualityError

SCHEME = Param(
    "scheme",
    "str",
    "grading scheme (schemas/grading_schemes.json); default: the profile's grading_scheme",
    default=profile_scheme,
    choices=lambda: tuple(load_schemes()),
)


def transform(ctx: RunContext, inputs: Inputs) -> Produced:
    scheme = get_scheme(str(ctx.params["scheme"]))
    scores = inputs.table("exams.scores")
    exam_ids = exams_to_grade(scores, inputs.as_last_read("exams.scores"), ctx.run_date)
    delivered = [row.exam_id for row in exam_ids.collect()]
    if not delivered:
        raise DataQualityError(
            f"exams.scores has no rows delivered on {ctx.run_date}: nothing to grade"
        )
    exams = scores.where(F.col("exam_id").isin(delivered))
    # The lookup (one row per exam, subject and distinct score) feeds all three outputs.
    lookup = inputs.shared(grade_lookup(score_histogram(exams), scheme))
    frames = {
        "exams.grades": Slices(grade_rows(exams, lookup, scheme), delivered),
        "exams.grade_cutoffs": Slices(grade_cutoffs(lookup, scheme), delivered),
        "exams.school_report": Slices(school_report_of(exams, lookup, scheme), delivered),
    }
    return Produced(frames, rows_in=int(lookup.agg(F.sum("count")).first()[0] or 0))


JOB = Job(
    name="exams.grade",
    inputs=("exams.scores",),
    writes=(
        replace_slices("exams.grades", by=("exam_id",)),  # one row per score graded: counted
        replace_slices("exams.grade_cutoffs", by=("exam_id",), counts=None),
        replace_slices("exams.school_report", by=("exam_id",), counts=None),
    ),
    transform=transform,
    description="Grade every exam delivered on the run date: grades, cut-offs, school report.",
    params=(SCHEME,),
)

if __name__ == "__main__":
    from lakejobs.entry import job_main

    job_main(JOB)
