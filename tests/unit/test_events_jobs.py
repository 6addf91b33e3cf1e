"""The events jobs as declared: graph order, the pseudonym key gate, parameter validation."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from jobs.events import activity, ingest_events
from lakejobs.errors import UsageError
from lakejobs.pipeline import run_job, select_jobs
from lakejobs.pseudonym import KEY_ENV
from tests.conftest import TEST_SETTINGS


def test_the_domain_runs_ingestion_before_activity():
    assert [job.name for job in select_jobs("events")] == [
        "events.ingest_events",
        "events.activity",
    ]
    assert ingest_events.JOB.inputs == ("raw.events",)
    assert activity.JOB.inputs == ("events.events",)


def test_ingestion_refuses_to_run_without_the_pseudonym_key(spark, tmp_path: Path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    settings = dataclasses.replace(TEST_SETTINGS, lake=str(tmp_path / "lake"))
    lines: list[str] = []
    record = run_job(spark, settings, ingest_events.JOB, date(2026, 11, 20), echo=lines.append)
    assert record.status == "failed"
    assert record.error == (
        "LAKEJOBS_PSEUDONYM_KEY is not set: export a secret of at least 16 bytes to pseudonymise "
        "user ids (it is read from the environment only, never stored)"
    )
    assert not (tmp_path / "lake" / "curated" / "events").exists()
    # Spark work after the run (the next job, a notebook cell) is not labelled as this run's.
    for key in ("spark.jobGroup.id", "spark.job.description"):
        assert spark.sparkContext.getLocalProperty(key) is None


@pytest.mark.parametrize("value", ["0", "-1", "7d", "367"])
def test_retention_days_must_be_a_whole_number_of_days(value):
    with pytest.raises(UsageError) as raised:
        activity.JOB.resolve_params({"retention_days": value}, TEST_SETTINGS)
    assert str(raised.value) == (
        f"invalid retention_days {value!r}: expected a whole number from 1 to 366"
    )


def test_a_failing_table_level_expectation_writes_nothing(spark, tmp_path: Path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "unit-test-pseudonym-key")
    delivery = tmp_path / "lake" / "raw" / "events" / "ingest_date=2026-11-20"
    delivery.mkdir(parents=True)
    (delivery / "e.jsonl").write_text(
        '{"event_id": "e1", "uid": "u1", "ts": 1795143600000, "type": "click"}\n'
        '{"event_id": "e2", "uid": "u1", "ts": 17951\n'
        "[]\n",
        encoding="utf-8",
    )
    settings = dataclasses.replace(TEST_SETTINGS, lake=str(tmp_path / "lake"))
    record = run_job(spark, settings, ingest_events.JOB, date(2026, 11, 20), echo=lambda _: None)
    assert record.status == "failed"
    assert record.error.startswith(
        "events.events: table-level expectation failed, nothing written: "
        "expect_column_mean_to_be_between(column=_quarantined"
    )
    assert record.error.endswith("[quarantine_share]")
    assert not (tmp_path / "lake" / "curated" / "events").exists()
