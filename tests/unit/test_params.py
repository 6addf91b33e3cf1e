"""Params are inputs: declared per job, typed and checked before Spark starts, part of the skip
key (so `--param scheme=hs5` after a csat9 run re-grades)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.events import activity
from jobs.exams import grade
from jobs.exams.generate import generate_exam_scores
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.errors import UsageError
from lakejobs.job import Job, Param, Produced
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import preflight, resolve_params, run_jobs, select_jobs
from lakejobs.pseudonym import KEY_ENV
from tests.conftest import TEST_SETTINGS

RUN_DATE = date(2026, 11, 20)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakejobs.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env or dict(os.environ),
    )


def test_values_are_parsed_to_their_type_within_bounds():
    days = activity.RETENTION_DAYS
    assert days.parse("45") == 45 and isinstance(days.parse("45"), int)
    ratio = Param("share", "float", "", default=0.5, low=0.0, high=1.0)
    assert ratio.parse("0.25") == 0.25
    for bad, message in [
        ("1.5", "invalid share '1.5': expected a number from 0.0 to 1.0"),
        ("inf", "invalid share 'inf': expected a number from 0.0 to 1.0"),
        ("x", "invalid share 'x': expected a number from 0.0 to 1.0"),
    ]:
        with pytest.raises(UsageError) as raised:
            ratio.parse(bad)
        assert str(raised.value) == message
    unbounded = Param("n", "int", "", default=0)
    with pytest.raises(UsageError, match=r"^invalid n '1e3': expected a whole number$"):
        unbounded.parse("1e3")


def test_the_scheme_is_one_of_the_grading_schemes_file_and_defaults_to_the_profile():
    assert grade.JOB.resolve_params({}, TEST_SETTINGS) == {"scheme": "csat9"}
    hs5_profile = dataclasses.replace(TEST_SETTINGS, job_defaults={"grading_scheme": "hs5"})
    assert grade.JOB.resolve_params({}, hs5_profile) == {"scheme": "hs5"}
    assert grade.JOB.resolve_params({"scheme": "hs5"}, TEST_SETTINGS) == {"scheme": "hs5"}
    with pytest.raises(UsageError) as raised:
        grade.JOB.resolve_params({"scheme": "nosuch"}, TEST_SETTINGS)
    assert str(raised.value) == "invalid scheme 'nosuch': expected one of csat9, hs5"
    # A bad profile default fails like a bad --param, before anything runs.
    with pytest.raises(UsageError, match=r"^invalid scheme 'csat8'"):
        csat8_profile = dataclasses.replace(TEST_SETTINGS, job_defaults={"grading_scheme": "csat8"})
        grade.JOB.resolve_params({}, csat8_profile)


def test_a_key_no_selected_job_declares_is_rejected():
    exams = select_jobs("exams")
    with pytest.raises(UsageError) as raised:
        resolve_params(exams, {"sceme": "hs5"}, TEST_SETTINGS)
    assert str(raised.value) == "unknown --param sceme (the selected jobs take: scheme)"
    with pytest.raises(UsageError, match=r"^unknown --param retention_days "):
        resolve_params(exams, {"retention_days": "7"}, TEST_SETTINGS)
    with pytest.raises(UsageError) as raised:
        grade.JOB.resolve_params({"sceme": "hs5"}, TEST_SETTINGS)
    assert str(raised.value) == "unknown --param sceme (exams.grade takes: scheme)"


def test_each_job_gets_only_its_own_params_with_defaults_filled_in():
    resolved = resolve_params(select_jobs("nightly"), {"retention_days": "7"}, TEST_SETTINGS)
    assert resolved["events.activity"] == {"retention_days": 7}
    assert resolved["exams.grade"] == {"scheme": "csat9"}
    assert resolved["ads.creative_ab_test"] == {"significance": 0.05}
    assert resolved["exams.ingest_scores"] == {}


def test_a_param_cannot_be_declared_twice():
    twice = (activity.RETENTION_DAYS, activity.RETENTION_DAYS)
    with pytest.raises(UsageError, match=r"^job events.x: a param is declared twice$"):
        Job("events.x", (), (), lambda ctx, inputs: Produced({}, 0), "", params=twice)


def test_preflight_checks_the_pseudonym_key_only_when_an_events_job_is_selected(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert preflight(select_jobs("exams"), {}, TEST_SETTINGS)["exams.grade"] == {"scheme": "csat9"}
    with pytest.raises(UsageError, match=rf"^{KEY_ENV} is not set: "):
        preflight(select_jobs("nightly"), {}, TEST_SETTINGS)
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(UsageError, match=rf"^{KEY_ENV} is too short \(5 bytes\)"):
        preflight(select_jobs("events"), {}, TEST_SETTINGS)
    monkeypatch.setenv(KEY_ENV, "a-long-enough-test-key")
    assert preflight(select_jobs("events"), {}, TEST_SETTINGS)["events.activity"] == {
        "retention_days": 30
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "exams.grade", "--param", "sceme=hs5", "--force"],
            "lakejobs: error: unknown --param sceme (the selected jobs take: scheme)",
        ),
        (
            ["run", "exams", "--param", "scheme=nosuch"],
            "lakejobs: error: invalid scheme 'nosuch': expected one of csat9, hs5",
        ),
        (
            ["run", "events", "--param", "retention_days=7d"],
            "lakejobs: error: invalid retention_days '7d': expected a whole number from 1 to 366",
        ),
        (["run", "nightly"], f"lakejobs: error: {KEY_ENV} is not set: "),
    ],
)
def test_bad_params_and_secrets_fail_in_one_line_before_spark_starts(tmp_path, args, message):
    lake = tmp_path / "lake"
    lake.mkdir()
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    if "nightly" not in args:
        env[KEY_ENV] = "a-long-enough-test-key"
    result = run_cli(*args, "--date", RUN_DATE.isoformat(), "--lake", str(lake), env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(lake.iterdir()) == []  # no Spark session ever started: no metastore, no table


def test_a_job_file_checks_its_params_before_spark_starts(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    args = ["--date", "2026-11-20", "--lake", str(tmp_path), "--param", "scheme=nosuch"]
    result = subprocess.run(
        [sys.executable, "jobs/exams/grade.py", *args],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr == "lakejobs: error: invalid scheme 'nosuch': expected one of csat9, hs5\n"
    assert list(tmp_path.iterdir()) == []


def grades(spark, lake: Path):
    location = Catalog(spark, LakeLayout(str(lake))).location(table_contract("exams.grades"))
    return spark.read.format("delta").load(location)


def grade_range(spark, lake: Path) -> tuple[int, int, set[str]]:
    row = (
        grades(spark, lake)
        .agg(F.min("grade"), F.max("grade"), F.collect_set("scheme").alias("schemes"))
        .first()
    )
    return row[0], row[1], set(row["schemes"])


def test_a_scheme_param_regrades_after_a_csat9_run_and_back(spark, tmp_path):
    lake = tmp_path / "lake"
    generate_exam_scores(lake, RUN_DATE, 3_000, dirty_share=0.0)
    settings = dataclasses.replace(TEST_SETTINGS, lake=str(lake))

    def run(target: str, params: dict[str, str] | None = None):
        return run_jobs(
            spark, settings, select_jobs(target), RUN_DATE, params, echo=lambda line: None
        )

    first = run("exams")
    assert first.failed == () and [r.params for r in first.records] == [{}, {"scheme": "csat9"}]
    assert grade_range(spark, lake) == (1, 9, {"csat9"})

    hs5 = run("exams.grade", {"scheme": "hs5"})  # the README's example: not "already done"
    assert [(r.job, r.status, r.params) for r in hs5.records] == [
        ("exams.grade", "succeeded", {"scheme": "hs5"})
    ]
    assert grade_range(spark, lake) == (1, 5, {"hs5"})
    assert run("exams.grade", {"scheme": "hs5"}).up_to_date == ("exams.grade",)

    # The latest success was hs5: a csat9 run grades again, though an old csat9 run matches.
    back = run("exams.grade")
    assert [r.params for r in back.records] == [{"scheme": "csat9"}]
    assert grade_range(spark, lake) == (1, 9, {"csat9"})

    log = spark.read.format("delta").load(
        Catalog(spark, LakeLayout(settings.lake)).location(table_contract("lakejobs.job_runs"))
    )
    grade_params = [
        r["params"] for r in log.where("job = 'exams.grade'").orderBy("started_at").collect()
    ]
    assert grade_params == ['{"scheme": "csat9"}', '{"scheme": "hs5"}', '{"scheme": "csat9"}']
