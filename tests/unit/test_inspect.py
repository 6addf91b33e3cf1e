"""JVM-free metadata (`lakejobs tables|runs|jobs|quarantine`) on real Delta tables written with
delta-rs in the layout and schemas lakejobs uses; the commands run in a subprocess whose PATH has
no `java` and no JAVA_HOME/SPARK_HOME, so any attempt to start Spark would fail them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakejobs.config import Settings
from lakejobs.errors import UsageError
from lakejobs.inspect import (
    latest_per_run,
    read_quarantine,
    read_runs,
    summarize_quarantine,
    tables_overview,
)

RUN_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("job", pa.string()),
        ("run_date", pa.date32()),
        ("params", pa.string()),
        ("status", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("duration_s", pa.float64()),
        ("rows_in", pa.int64()),
        ("rows_written", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_duplicates", pa.int64()),
        ("input_versions", pa.map_(pa.string(), pa.string())),
        ("output_versions", pa.map_(pa.string(), pa.int64())),
        ("error", pa.string()),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("ingest_date", pa.date32()),
        ("source_file", pa.string()),
        ("raw_record", pa.string()),
        ("reasons", pa.list_(pa.string())),
        ("run_id", pa.string()),
    ]
)
DAY = date(2026, 11, 20)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, tzinfo=UTC)


def run_row(run_id: str, job: str, status: str, started: datetime, finished: datetime, **extra):
    row = {
        "run_id": run_id,
        "job": job,
        "run_date": DAY,
        "params": "{}",
        "status": status,
        "started_at": started,
        "finished_at": finished,
        "duration_s": (finished - started).total_seconds(),
        "rows_in": None,
        "rows_written": None,
        "rows_quarantined": None,
        "rows_duplicates": None,
        "input_versions": [],
        "output_versions": None,
        "error": None,
    }
    row.update(extra)
    return row


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A lake with exams.scores (two commits), its quarantine (two dates) and a run log in
    which one run logged `running` first and `succeeded` later."""
    curated = tmp_path / "lake" / "curated"
    scores = pa.table({"exam_id": ["A", "A", "B"], "score": [1.0, 2.0, 3.0]})
    write_deltalake(str(curated / "exams" / "scores"), scores)
    write_deltalake(str(curated / "exams" / "scores"), scores.slice(0, 2), mode="append")
    quarantine = pa.Table.from_pylist(
        [
            {"ingest_date": DAY, "source_file": "file:/r/b.csv", "raw_record": "x,,3",
             "reasons": ["null:student_id", "bad_type:score"], "run_id": "r1"},
            {"ingest_date": DAY, "source_file": "file:/r/a.csv", "raw_record": "y,1,999",
             "reasons": ["out_of_range:score"], "run_id": "r1"},
            {"ingest_date": DAY, "source_file": "file:/r/a.csv", "raw_record": "z,2,",
             "reasons": ["null:student_id"], "run_id": "r1"},
            {"ingest_date": date(2026, 11, 19), "source_file": "file:/r/c.csv",
             "raw_record": "old", "reasons": ["malformed"], "run_id": "r0"},
        ],
        schema=QUARANTINE_SCHEMA,
    )  # fmt: skip
    write_deltalake(
        str(curated / "exams" / "scores_quarantine"), quarantine, partition_by=["ingest_date"]
    )
    runs = [
        run_row("r1", "exams.ingest_scores", "running", at(10), at(10)),
        run_row(
            "r1",
            "exams.ingest_scores",
            "succeeded",
            at(10),
            at(10, 5),
            rows_in=7,
            rows_written=3,
            rows_quarantined=3,
            rows_duplicates=1,
            output_versions=[("exams.scores", 1), ("exams.scores_quarantine", 0)],
        ),
        run_row("r2", "exams.grade", "failed", at(11), at(11, 1), error="boom"),
        run_row("r3", "exams.grade", "running", at(12), at(12)),
    ]
    write_deltalake(
        str(curated / "lakejobs" / "job_runs"), pa.Table.from_pylist(runs, schema=RUN_SCHEMA)
    )
    return tmp_path / "lake"


def settings_for(lake: Path) -> Settings:
    return Settings(profile="test", lake=str(lake), master="local[1]")


def test_latest_row_per_run_wins_and_runs_are_newest_first(lake: Path):
    runs = read_runs(settings_for(lake))
    assert [(r["run_id"], r["status"]) for r in runs] == [
        ("r3", "running"),
        ("r2", "failed"),
        ("r1", "succeeded"),
    ]
    assert runs[2]["rows_in"] == 7
    assert read_runs(settings_for(lake), date(2026, 11, 21)) == []


def test_a_final_row_beats_a_running_row_whatever_the_order():
    running = {"run_id": "x", "status": "running", "finished_at": at(9), "started_at": at(9)}
    done = {"run_id": "x", "status": "abandoned", "finished_at": None, "started_at": at(9)}
    assert [r["status"] for r in latest_per_run([done, running])] == ["abandoned"]
    assert [r["status"] for r in latest_per_run([running, done])] == ["abandoned"]


def test_tables_overview_counts_rows_from_the_log_and_names_the_last_run(lake: Path):
    overview = {t.name: t for t in tables_overview(settings_for(lake))}
    assert sorted(overview) == ["exams.scores", "exams.scores_quarantine", "lakejobs.job_runs"]
    assert (overview["exams.scores"].rows, overview["exams.scores"].version) == (5, 1)
    assert overview["exams.scores"].last_run == "exams.ingest_scores succeeded 2026-11-20 10:05"
    assert overview["exams.scores_quarantine"].rows == 4
    assert overview["lakejobs.job_runs"].last_run == "-"


def test_quarantine_counts_each_reason_of_one_date_and_samples_raw_records(lake: Path):
    summary = read_quarantine(settings_for(lake), "exams.scores", DAY, samples=2)
    assert summary.table == "exams.scores_quarantine"
    assert summary.rows == 3
    assert summary.reasons == [
        ("null:student_id", 2),
        ("bad_type:score", 1),
        ("out_of_range:score", 1),
    ]
    assert [s["raw"] for s in summary.samples] == ["y,1,999", "z,2,"]
    other_day = read_quarantine(settings_for(lake), "exams.scores_quarantine", date(2026, 11, 19))
    assert (other_day.rows, other_day.reasons) == (1, [("malformed", 1)])


def test_an_empty_date_has_no_reasons():
    assert summarize_quarantine("t_quarantine", DAY, [], 5).reasons == []


def test_unknown_or_malformed_quarantine_tables_are_usage_errors(lake: Path):
    with pytest.raises(
        UsageError, match=r"no quarantine table ads.spend_quarantine .*known: exams.scores\)"
    ):
        read_quarantine(settings_for(lake), "ads.spend", DAY)
    with pytest.raises(UsageError, match=r"invalid table name '\.\./etc'"):
        read_quarantine(settings_for(lake), "../etc", DAY)


def _no_java_env() -> dict[str, str]:
    """The environment minus every way to find Java or Spark: PATH is the venv's bin alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_HOME")}
    env["PATH"] = str(Path(sys.executable).parent)
    assert shutil.which("java", path=env["PATH"]) is None
    return env


def lakejobs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakejobs.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_no_java_env(),
    )


def test_metadata_commands_answer_without_java(lake: Path):
    tables = lakejobs("tables", "--lake", str(lake))
    assert tables.returncode == 0, tables.stderr
    assert "exams.scores " in tables.stdout and "5" in tables.stdout

    runs = lakejobs("runs", "--lake", str(lake), "--date", "2026-11-20")
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.count("exams.ingest_scores") == 1  # the running row of r1 is superseded
    assert "succeeded" in runs.stdout and "boom" in runs.stdout

    quarantine = lakejobs("quarantine", "exams.scores", "--lake", str(lake), "--date", "2026-11-20")
    assert quarantine.returncode == 0, quarantine.stderr
    assert "3 rows quarantined" in quarantine.stdout
    assert "y,1,999" in quarantine.stdout

    jobs = lakejobs("jobs", "--lake", str(lake), "--format", "json")
    assert jobs.returncode == 0, jobs.stderr
    listed = {job["name"]: job for job in json.loads(jobs.stdout)}
    assert listed["exams.grade"]["inputs"] == ["exams.scores"]
    assert "exams.grades" in listed["exams.grade"]["outputs"]
    assert listed["exams.grade"]["last_run"].startswith("2026-11-20 running")
    assert listed["ads.ingest_fx"]["last_run"] == "-"
    names = list(listed)
    assert names.index("exams.ingest_scores") < names.index("exams.grade")


def test_quarantine_of_an_unknown_table_is_one_line_and_exit_2(lake: Path):
    result = lakejobs("quarantine", "ads.spend", "--lake", str(lake), "--date", "2026-11-20")
    assert result.returncode == 2
    assert result.stderr.startswith("lakejobs: error: no quarantine table ads.spend_quarantine")
    assert len(result.stderr.strip().splitlines()) == 1


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    result = lakejobs("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"lakejobs {version('lakejobs')}"
