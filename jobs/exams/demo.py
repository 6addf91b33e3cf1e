"""What `lakejobs demo` shows of the exams domain after its run: why score lines were
quarantined, and the grade cut-offs of one exam."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from rich.table import Table

from lakejobs.catalog import register_lake
from lakejobs.config import Settings
from lakejobs.inspect import console
from lakejobs.pipeline import PipelineResult
from lakejobs.report import quarantine_table


def cutoff_table(spark: SparkSession, exam_id: str | None = None) -> Table:
    """Grade cut-offs of one exam: lowest score reaching each grade, per subject."""
    cutoffs = spark.table("exams.grade_cutoffs")
    exam_id = exam_id or cutoffs.agg(F.min("exam_id")).collect()[0][0]  # a global agg: one row
    rows = cutoffs.where(F.col("exam_id") == exam_id).collect()
    subjects = sorted({r["subject"] for r in rows})
    grades = sorted({r["grade"] for r in rows})
    cell = {(r["subject"], r["grade"]): r for r in rows}
    table = Table(title=f"Grade cut-offs for {exam_id}: lowest score reaching each grade (share)")
    table.add_column("grade", justify="right")
    for subject in subjects:
        table.add_column(subject, justify="right")
    for grade in grades:
        values = []
        for subject in subjects:
            r = cell.get((subject, grade))
            values.append(f"{r['min_score']:g} ({r['share']:.0%})" if r else "-")
        table.add_row(str(grade), *values)
    return table


def print_summary(spark: SparkSession, settings: Settings, result: PipelineResult) -> None:
    """The quarantine reasons of the run date and the first exam's cut-offs."""
    register_lake(spark, settings.lake, databases=["exams"])  # the cut-off table reads by name
    run_date = result.records[0].run_date.isoformat()
    console().print(quarantine_table(spark, settings, "exams.scores_quarantine", run_date))
    console().print(cutoff_table(spark))
