"""The exams pipeline end to end on a generated dirty lake: accounting, quarantine, idempotency,
fail-before-write and recovery after a kill."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame

from jobs.exams.generate import generate_exam_scores, read_manifest
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import PipelineResult, run_jobs, select_jobs
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.integration

RUN_DATE = date(2026, 11, 20)
ROWS = 4_000
OUTPUTS = (
    "exams.scores",
    "exams.scores_quarantine",
    "exams.grades",
    "exams.grade_cutoffs",
    "exams.school_report",
)
LINEAGE = ("run_id",)  # which run wrote a row: expected to change on a re-run, nothing else is


def settings_for(lake: Path, **changes):
    return dataclasses.replace(TEST_SETTINGS, lake=str(lake), **changes)


def run_exams(spark, lake: Path, force: bool = False, **changes) -> PipelineResult:
    return run_jobs(
        spark,
        settings_for(lake, **changes),
        select_jobs("exams"),
        RUN_DATE,
        echo=lambda line: None,
        force=force,
    )


def snapshot(spark, lake: Path, table: str) -> DataFrame:
    location = Catalog(spark, LakeLayout(settings_for(lake).lake)).location(table_contract(table))
    df = spark.read.format("delta").load(location)
    return df.drop(*[c for c in LINEAGE if c in df.columns])


def versions(spark, lake: Path) -> dict[str, int | None]:
    tables = Catalog(spark, LakeLayout(settings_for(lake).lake))
    return {name: tables.version(table_contract(name)) for name in OUTPUTS}


def same_rows(a: DataFrame, b: DataFrame) -> bool:
    return a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty()


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("exams-lake")
    generate_exam_scores(root, RUN_DATE, ROWS, dirty_share=0.05)
    result = run_exams(spark, root)
    assert result.failed == () and result.skipped == ()
    return root


@pytest.fixture(scope="module")
def manifest(lake: Path) -> dict:
    return read_manifest(lake / "raw" / "exam_scores" / f"ingest_date={RUN_DATE}")


def last_runs(spark, lake: Path) -> dict[str, dict]:
    log = snapshot(spark, lake, "lakejobs.job_runs").orderBy("started_at").collect()
    return {row["job"]: row.asDict() for row in log}


def test_row_accounting_reconciles_with_what_the_generator_injected(spark, lake, manifest):
    ingest = last_runs(spark, lake)["exams.ingest_scores"]
    dirty = manifest["dirty"]
    assert ingest["status"] == "succeeded"
    assert ingest["rows_in"] == manifest["data_rows"] == ROWS
    assert ingest["rows_duplicates"] == dirty["duplicate"]
    assert ingest["rows_quarantined"] == sum(v for k, v in dirty.items() if k != "duplicate")
    assert ingest["rows_written"] == manifest["clean_rows"]
    assert snapshot(spark, lake, "exams.scores").count() == manifest["clean_rows"]


def test_each_kind_of_bad_row_lands_in_quarantine_with_its_reason(spark, lake, manifest):
    quarantine = snapshot(spark, lake, "exams.scores_quarantine")
    by_reason = {
        tuple(r["reasons"]): r["count"] for r in quarantine.groupBy("reasons").count().collect()
    }
    expected = {(k,): v for k, v in manifest["dirty"].items() if k != "duplicate"}
    assert by_reason == expected
    assert quarantine.where("raw_record IS NULL OR source_file IS NULL").isEmpty()


def test_every_curated_score_is_graded_and_the_run_log_says_so(spark, lake):
    grades = snapshot(spark, lake, "exams.grades")
    assert grades.count() == snapshot(spark, lake, "exams.scores").count()
    grade_run = last_runs(spark, lake)["exams.grade"]
    assert grade_run["status"] == "succeeded"
    assert grade_run["rows_in"] == grade_run["rows_written"] == grades.count()
    assert set(grade_run["output_versions"]) == {
        "exams.grades",
        "exams.grade_cutoffs",
        "exams.school_report",
    }


def test_tables_are_registered_by_name(spark, lake):
    Catalog(spark, LakeLayout(settings_for(lake).lake)).ensure(table_contract("exams.grades"))
    assert spark.table("exams.grades").count() == snapshot(spark, lake, "exams.grades").count()


def test_rerunning_the_same_date_gives_identical_content(spark, lake):
    before = {t: snapshot(spark, lake, t).localCheckpoint() for t in OUTPUTS}
    result = run_exams(spark, lake, force=True)
    assert result.failed == () and len(result.records) == 2
    for table in OUTPUTS:
        assert same_rows(before[table], snapshot(spark, lake, table)), table


def test_a_second_run_on_the_same_inputs_skips_every_job(spark, lake):
    before = versions(spark, lake)
    result = run_exams(spark, lake)
    assert result.records == () and result.up_to_date == ("exams.ingest_scores", "exams.grade")
    assert versions(spark, lake) == before


def test_a_failing_table_level_expectation_writes_nothing(spark, lake):
    before = versions(spark, lake)
    result = run_exams(spark, lake, force=True, max_quarantine_share=0.001)
    assert result.failed == ("exams.ingest_scores",)
    assert result.skipped == ("exams.grade",)
    assert versions(spark, lake) == before
    failed = last_runs(spark, lake)["exams.ingest_scores"]
    assert failed["status"] == "failed"
    assert "quarantine_share" in failed["error"] and "nothing written" in failed["error"]


def test_a_run_killed_mid_write_leaves_readable_tables_and_a_rerun_completes(spark, lake, tmp_path):
    root = tmp_path / "killed"
    generate_exam_scores(root, RUN_DATE, ROWS, dirty_share=0.05)
    env = {**os.environ, "LAKEJOBS_MASTER": "local[2]"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lakejobs.cli",
            "run",
            "exams",
            "--lake",
            str(root),
            "--date",
            str(RUN_DATE),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    scores_log = root / "curated" / "exams" / "scores" / "_delta_log"
    deadline = time.monotonic() + 240
    while not list(scores_log.glob("*.json")) and process.poll() is None:
        if time.monotonic() > deadline:  # a guard against hanging, not a performance check
            pytest.fail("the pipeline never committed exams.scores")
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the grade job is starting or mid-write now
    process.wait()

    snapshot(spark, root, "exams.scores").count()  # the committed version is readable
    result = run_exams(spark, root)
    assert result.failed == ()
    for table in OUTPUTS:  # same content as the uninterrupted run on the same generated files
        expected, actual = snapshot(spark, lake, table), snapshot(spark, root, table)
        if "source_file" in expected.columns:  # absolute paths differ between the two lakes
            expected, actual = expected.drop("source_file"), actual.drop("source_file")
        assert same_rows(expected, actual), table


def test_a_job_file_runs_through_spark_submit_sh(spark, lake, tmp_path):
    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "submitted"
    generate_exam_scores(root, RUN_DATE, ROWS, dirty_share=0.05)
    result = subprocess.run(
        [
            str(repo / "spark-submit.sh"),
            "--master",
            "local[2]",
            "--lake",
            str(root),
            "jobs/exams/ingest_scores.py",
            "--date",
            str(RUN_DATE),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "✔ exams.ingest_scores" in result.stdout + result.stderr  # spark-submit merges them
    expected = snapshot(spark, lake, "exams.scores").drop("source_file")
    assert same_rows(expected, snapshot(spark, root, "exams.scores").drop("source_file"))


def test_runs_and_tables_commands_show_the_run_log_and_versions(spark, lake, capsys):
    from lakejobs.report import print_runs, print_tables

    print_runs(spark, settings_for(lake), RUN_DATE)
    print_tables(spark, settings_for(lake))
    out = capsys.readouterr().out
    assert "exams.ingest_scores" in out and "succeeded" in out
    assert "exams.grade_cutoffs" in out and "lakejobs.job_runs" in out
