"""A run that fails after its first commit changes nothing: every output it committed is restored
to its pre-run version, and the run log says which versions were rolled back."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.exams import grade
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import run_jobs, select_jobs
from lakejobs.tables import TableWriter
from tests.conftest import TEST_SETTINGS
from tests.integration.test_redelivery import HEADER, deliver, last_run, scores

pytestmark = pytest.mark.integration

D0, D = date(2026, 11, 16), date(2026, 11, 17)
OUTPUTS = (
    "exams.scores",
    "exams.scores_quarantine",
    "exams.grades",
    "exams.grade_cutoffs",
    "exams.school_report",
)


def settings_for(lake: Path):
    return dataclasses.replace(TEST_SETTINGS, lake=str(lake))


def tables_of(spark, lake: Path) -> Catalog:
    return Catalog(spark, LakeLayout(settings_for(lake).lake))


def state(spark, lake: Path) -> dict[str, set[str] | None]:
    """Every output's rows (None: no table), read from Delta."""
    tables = tables_of(spark, lake)
    out: dict[str, set[str] | None] = {}
    for name in OUTPUTS:
        contract = table_contract(name)
        if not tables.exists(contract):
            out[name] = None
            continue
        df: DataFrame = spark.read.format("delta").load(tables.location(contract))
        out[name] = {str(r) for r in df.collect()}  # str: rows hold lists
    return out


def run_exams(spark, lake: Path, day: date):
    return run_jobs(spark, settings_for(lake), select_jobs("exams"), day, echo=lambda line: None)


def delivery(lake: Path, day: date, exam: str, students: list[str]) -> None:
    rows = scores(exam, "A", students)
    deliver(
        lake, "exam_scores", day, {"a.csv": [HEADER, *rows, f"{exam},2026-11-10,math,X,A,A-1,101"]}
    )


def same_as_before(spark, lake: Path, before: dict) -> None:
    after = state(spark, lake)
    for name in OUTPUTS:
        if before[name] is None:  # absent before: restored to its empty version 0
            assert after[name] in (None, set()), name
        else:
            assert after[name] == before[name], name


def test_a_first_run_failing_in_its_second_write_leaves_no_rows(spark, tmp_path, monkeypatch):
    lake = tmp_path / "fresh"
    delivery(lake, D, "E1", ["S1", "S2", "S3", "S4", "S5"])
    before = state(spark, lake)

    def broken_merge(self, contract, df, *args, **kwargs):
        raise RuntimeError(f"disk full while merging into {contract.name}")

    monkeypatch.setattr(TableWriter, "merge", broken_merge)
    result = run_exams(spark, lake, D)
    assert result.failed == ("exams.ingest_scores",) and result.skipped == ("exams.grade",)
    same_as_before(spark, lake, before)
    quarantine = table_contract("exams.scores_quarantine")
    assert tables_of(spark, lake).version(quarantine) == 2  # v1 the run's commit, v2 the restore
    failed = last_run(spark, lake, "exams.ingest_scores", D)
    assert failed["status"] == "failed" and "disk full" in failed["error"]
    assert "rolled back: exams.scores_quarantine to v0" in failed["error"]


def test_a_grade_run_failing_in_its_third_write_restores_the_two_it_made(
    spark, tmp_path, monkeypatch
):
    lake = tmp_path / "graded"
    delivery(lake, D0, "E0", ["S1", "S2", "S3", "S4"])
    assert run_exams(spark, lake, D0).failed == ()
    delivery(lake, D, "E0", ["S1", "S2", "S3", "S4", "S5", "S6"])
    real_report = grade.school_report_of

    def report_outside_its_slice(*args, **kwargs):  # a bug Delta's replaceWhere check catches
        return real_report(*args, **kwargs).withColumn("exam_id", F.lit("E9"))

    monkeypatch.setattr(grade, "school_report_of", report_outside_its_slice)
    tables = tables_of(spark, lake)
    versions = tables.versions(table_contract(n) for n in OUTPUTS)
    result = run_exams(spark, lake, D)
    assert result.failed == ("exams.grade",)
    after_ingest = state(spark, lake)  # the ingest of D succeeded and stays
    assert len(after_ingest["exams.scores"]) == 12
    failed = last_run(spark, lake, "exams.grade", D)
    assert failed["status"] == "failed"
    graded = ("exams.grades", "exams.grade_cutoffs")
    restored = ", ".join(f"{t} to v{versions[t]}" for t in sorted(graded))
    assert f"(rolled back: {restored})" in failed["error"]
    # Grades, cut-offs and the report hold D0's grading of E0 (4 students), as before the run.
    grades = spark.read.format("delta").load(tables.location(table_contract("exams.grades")))
    assert grades.count() == 2 * 4
    for name in (*graded, "exams.school_report"):
        location = tables.location(table_contract(name))
        pre_run = spark.read.format("delta").option("versionAsOf", versions[name]).load(location)
        now = spark.read.format("delta").load(location)
        assert {tuple(r) for r in now.collect()} == {tuple(r) for r in pre_run.collect()}, name
