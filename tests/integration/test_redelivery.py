"""Re-deliveries replace the date they re-deliver, and a clean delivery after a dirty one counts
zero quarantined rows: exams (scores and grades), events and one ads source, on hand-written
deliveries, counted in the Delta tables."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame

from jobs.ads import ingest_installs
from jobs.events import activity, ingest_events
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import run_jobs, select_jobs
from lakejobs.pseudonym import KEY_ENV
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.integration

D0, D, D2 = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)
LATE = date(2026, 11, 12)
HEADER = "exam_id,exam_date,subject,student_id,school_id,class_id,score"


def settings_for(lake: Path):
    # Hand-written deliveries are a few lines: one bad line is a large share of a delivery.
    return dataclasses.replace(TEST_SETTINGS, lake=str(lake), max_quarantine_share=0.5)


def deliver(lake: Path, source: str, day: date, files: dict[str, list[str]]) -> None:
    """Write (or replace) the raw delivery of `source` for `day`: file name -> lines."""
    folder = lake / "raw" / source / f"ingest_date={day.isoformat()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, lines in files.items():
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(spark, lake: Path, jobs, day: date):
    result = run_jobs(spark, settings_for(lake), jobs, day, echo=lambda line: None)
    assert result.failed == () and result.skipped == (), [r.error for r in result.records]
    return result


def table(spark, lake: Path, name: str) -> DataFrame:
    tables = Catalog(spark, LakeLayout(settings_for(lake).lake))
    return spark.read.format("delta").load(tables.location(table_contract(name)))


def last_run(spark, lake: Path, job: str, day: date) -> dict:
    runs = table(spark, lake, "lakejobs.job_runs").where(f"job = '{job}' AND run_date = '{day}'")
    return runs.orderBy("started_at").collect()[-1].asDict()


def scores(exam: str, school: str, students: list[str], subjects=("math", "korean")) -> list[str]:
    return [
        f"{exam},2026-11-10,{subject},{student},{school},{school}-1,{(7 * i + len(subject)) % 101}"
        for subject in subjects
        for i, student in enumerate(students)
    ]


A_STUDENTS = [f"A{i:03d}" for i in range(1, 10)]
B_STUDENTS = [f"B{i:03d}" for i in range(1, 6)]


def test_exams_redelivery_replaces_the_date_and_regrades_what_it_touched(spark, tmp_path):
    lake = tmp_path / "exams"
    exams = select_jobs("exams")
    # D0: a dirty delivery (one score out of range) of exam E0.
    deliver(
        lake,
        "exam_scores",
        D0,
        {
            "school_c.csv": [
                HEADER,
                *scores("E0", "C", ["C001", "C002", "C003", "C004", "C005"]),
                "E0,2026-11-10,math,C006,C,C-1,150",
            ]
        },
    )
    run(spark, lake, exams, D0)
    assert last_run(spark, lake, "exams.ingest_scores", D0)["rows_quarantined"] == 1

    # D: clean; exam E1 from both schools (one id mistyped), exam E2 from school b only.
    typo = [*A_STUDENTS, "A01O"]
    deliver(
        lake,
        "exam_scores",
        D,
        {
            "school_a.csv": [HEADER, *scores("E1", "A", typo)],
            "school_b.csv": [
                HEADER,
                *scores("E1", "B", B_STUDENTS),
                *scores("E2", "B", B_STUDENTS, ("math",)),
            ],
        },
    )
    run(spark, lake, exams, D)
    clean = last_run(spark, lake, "exams.ingest_scores", D)
    assert clean["status"] == "succeeded" and clean["rows_quarantined"] == 0
    assert clean["rows_written"] == 2 * 10 + 2 * 5 + 5
    assert table(spark, lake, "exams.grades").where("exam_id = 'E2'").count() == 5

    # D re-delivered: school_b.csv withdrawn, the mistyped id corrected.
    fixed = [*A_STUDENTS, "A010"]
    deliver(lake, "exam_scores", D, {"school_a.csv": [HEADER, *scores("E1", "A", fixed)]})
    run(spark, lake, exams, D)

    curated = table(spark, lake, "exams.scores")
    on_d = {
        (r.exam_id, r.subject, r.student_id)
        for r in curated.where(f"ingest_date = '{D}'").collect()
    }
    assert on_d == {("E1", s, st) for s in ("math", "korean") for st in fixed}
    assert curated.where(f"ingest_date = '{D0}'").count() == 10  # D0's rows are D0's own
    grades = table(spark, lake, "exams.grades")
    e1 = grades.where("exam_id = 'E1'")
    assert {r.student_id for r in e1.select("student_id").distinct().collect()} == set(fixed)
    assert e1.count() == 20 and {r.n for r in e1.select("n").distinct().collect()} == {10}
    assert grades.where("exam_id = 'E2'").isEmpty()  # every E2 score was withdrawn
    assert grades.where("exam_id = 'E0'").count() == 10
    assert table(spark, lake, "exams.school_report").where("exam_id = 'E2'").isEmpty()
    redelivered = last_run(spark, lake, "exams.ingest_scores", D)
    assert redelivered["rows_in"] == redelivered["rows_written"] == 20


def event(event_id: str, user: str, day: date, hour: int = 9) -> str:
    millis = int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp() * 1000)
    return json.dumps({"event_id": event_id, "uid": user, "ts": millis, "type": "open"})


def test_events_redelivery_removes_the_events_only_that_date_curated(spark, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "integration-test-pseudonym-key")
    lake = tmp_path / "events"
    jobs = [ingest_events.JOB, activity.JOB]
    deliver(
        lake,
        "events",
        D0,
        {"part-0.jsonl": [event("e01", "u1", D0), event("e02", "u2", D0), "{not json"]},
    )
    run(spark, lake, jobs, D0)
    assert last_run(spark, lake, "events.ingest_events", D0)["rows_quarantined"] == 1

    # D: clean, repeats e02 (D0 curated it first), adds e03 and a late e04 (of LATE).
    deliver(
        lake,
        "events",
        D,
        {"part-0.jsonl": [event("e02", "u2", D0), event("e03", "u3", D), event("e04", "u4", LATE)]},
    )
    run(spark, lake, jobs, D)
    clean = last_run(spark, lake, "events.ingest_events", D)
    assert clean["status"] == "succeeded" and clean["rows_quarantined"] == 0
    assert (clean["rows_written"], clean["rows_duplicates"]) == (2, 1)

    # D re-delivered without e02 (D0's) and e04 (D's own).
    deliver(lake, "events", D, {"part-0.jsonl": [event("e03", "u3", D)]})
    run(spark, lake, jobs, D)
    events = table(spark, lake, "events.events")
    assert {(r.event_id, r.ingest_date) for r in events.collect()} == {
        ("e01", D0),
        ("e02", D0),
        ("e03", D),
    }
    dau = {
        r.event_date: (r.dau, r.events)
        for r in table(spark, lake, "events.daily_active_users").collect()
    }
    assert dau == {D0: (2, 2), D: (1, 1)}  # LATE lost its only event, e04


def test_ads_installs_redelivery_removes_withdrawn_users_unless_a_later_date_owns_them(
    spark, tmp_path
):
    lake = tmp_path / "ads"
    header = "user_id,install_time,media_source,campaign_id"

    def installs(users: list[str], day: date) -> list[str]:
        return [header, *[f"{u},{day} 10:00:00,facebook,fb-1" for u in users]]

    deliver(lake, "installs", D, {"installs.csv": installs(["u1", "u2", "u3", "u4", "u5"], D)})
    run(spark, lake, [ingest_installs.JOB], D)
    deliver(lake, "installs", D2, {"installs.csv": installs(["u5", "u6"], D2)})
    run(spark, lake, [ingest_installs.JOB], D2)
    deliver(lake, "installs", D, {"installs.csv": installs(["u1", "u2", "u3"], D)})
    run(spark, lake, [ingest_installs.JOB], D)
    owners = {(r.user_id, r.ingest_date) for r in table(spark, lake, "ads.installs").collect()}
    assert owners == {("u1", D), ("u2", D), ("u3", D), ("u5", D2), ("u6", D2)}
