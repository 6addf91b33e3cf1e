"""Pure transforms of the exams domain that are not grading itself: DataFrames in and out."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def exams_to_grade(
    scores: DataFrame, graded_from: DataFrame | None, ingest_date: date
) -> DataFrame:
    """The exam ids (`exam_id`) a delivery of `ingest_date` changed: those it delivers and, with
    `graded_from` (scores as the last grading of the date read them), those it delivered before,
    so an exam whose rows a re-delivery withdrew is re-graded too."""
    delivered = F.col("ingest_date") == F.lit(ingest_date)
    exams = scores.where(delivered).select("exam_id")
    if graded_from is not None:
        exams = exams.union(graded_from.where(delivered).select("exam_id"))
    return exams.distinct()
