"""The nightly pipeline across all three domains on three generated ingest dates: dependency
order, skip on the same inputs, --force, a failure that stops only its own branch, and resume."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pytest
from chispa import assert_df_equality

import jobs.ads.generate as ads
import jobs.events.generate as events
import jobs.exams.generate as exams
from lakejobs.catalog import Catalog
from lakejobs.config import Settings
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import PipelineResult, run_jobs, select_jobs
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.integration

DATES = [date(2026, 11, 18) + timedelta(days=i) for i in range(3)]
ROWS = 1_200
NIGHTLY = [job.name for job in select_jobs("nightly")]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nightly-lake")
    for day in DATES:
        exams.generate(root, day, rows=ROWS)
        ads.generate(root, day, rows=ROWS)
        events.generate(root, day, rows=ROWS)
    return root


@pytest.fixture(autouse=True)
def pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEJOBS_PSEUDONYM_KEY", "nightly-test-key-not-a-secret")


def settings_for(lake: Path) -> Settings:
    return dataclasses.replace(TEST_SETTINGS, lake=str(lake))


def run(spark, lake: Path, day: date, target: str = "nightly", **kwargs) -> PipelineResult:
    return run_jobs(
        spark, settings_for(lake), select_jobs(target), day, echo=lambda line: None, **kwargs
    )


def versions(spark, lake: Path) -> dict[str, int | None]:
    """The Delta version of every table a nightly job writes."""
    tables = Catalog(spark, LakeLayout(settings_for(lake).lake))
    return {
        output: tables.version(table_contract(output))
        for job in select_jobs("nightly")
        for output in job.outputs
    }


def read(spark, lake: Path, name: str):
    tables = Catalog(spark, LakeLayout(settings_for(lake).lake))
    return spark.read.format("delta").load(tables.location(table_contract(name)))


def test_every_domain_runs_then_a_rerun_skips_and_force_rewrites_identically(spark, lake):
    for day in DATES[:2]:
        result = run(spark, lake, day)
        assert result.failed == () and result.skipped == ()
        assert sorted(r.job for r in result.records) == sorted(NIGHTLY)

    before = versions(spark, lake)
    grades_before = read(spark, lake, "exams.grades").localCheckpoint()
    again = run(spark, lake, DATES[1])
    assert again.records == ()
    assert sorted(again.up_to_date) == sorted(NIGHTLY)
    assert versions(spark, lake) == before

    forced = run(spark, lake, DATES[1], target="exams.grade", force=True)
    assert [(r.job, r.status) for r in forced.records] == [("exams.grade", "succeeded")]
    assert versions(spark, lake)["exams.grades"] > before["exams.grades"]
    assert_df_equality(read(spark, lake, "exams.grades"), grades_before, ignore_row_order=True)


def test_a_failing_job_stops_only_its_branch_and_the_rerun_resumes(spark, lake):
    day = DATES[2]
    raw = Path(LakeLayout(str(lake)).raw_dir("exam_scores", day))
    # A delivery file without the score column: ingest_scores must fail, not guess.
    broken = raw / "zz-broken.csv"
    broken.write_text(
        "exam_id,exam_date,subject,student_id,school_id,class_id\n"
        "2026-11-CSAT,2026-11-19,math,ST1,S0001,S0001-C01\n",
        encoding="utf-8",
    )
    before = versions(spark, lake)

    result = run(spark, lake, day)
    assert result.failed == ("exams.ingest_scores",)
    assert result.skipped == ("exams.grade",)
    others = sorted(name for name in NIGHTLY if not name.startswith("exams."))
    assert sorted(r.job for r in result.records if r.status == "succeeded") == others
    after = versions(spark, lake)
    exams_tables = sorted(name for name in before if name.startswith("exams."))
    assert {t: after[t] for t in exams_tables} == {t: before[t] for t in exams_tables}

    broken.unlink()
    resumed = run(spark, lake, day)
    assert resumed.failed == ()
    assert sorted(r.job for r in resumed.records) == ["exams.grade", "exams.ingest_scores"]
    assert sorted(resumed.up_to_date) == others
