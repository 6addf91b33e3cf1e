"""Operators' view of the CLI: two runs on one lake at once, an odd lake path, a failing run's
console and log file, and a piped backfill over dates with and without deliveries.

Every run is a real `lakejobs` process (its own JVM) on a lake whose path holds a space and a
quote. Outcomes are read from the Delta tables and the run log, not from the output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.exams.generate import generate

# D1 is a year earlier: its exams (partitions of exams.scores) differ from D2's.
D1, D2, D3 = date(2025, 11, 17), date(2026, 11, 18), date(2026, 11, 19)
JAVA_FRAME = re.compile(r"^\s+at [\w.$]+\(.*\)\s*$", re.MULTILINE)


def cli(*args: str, timeout: int = 1800) -> subprocess.Popen[str]:
    env = {**os.environ, "LAKEJOBS_MASTER": "local[2]"}
    env.pop("LAKEJOBS_LAKE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "lakejobs.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=1800)
    return process.returncode, out, err


def delta(spark, lake: Path, table: str):
    database, name = table.split(".")
    return spark.read.format("delta").load(str(lake / "curated" / database / name))


@pytest.fixture(scope="module")
def shared_lake(tmp_path_factory) -> tuple[Path, list[tuple[int, str, str]]]:
    """One lake at `…/my lake's`, two dates delivered, both ingested by two processes at once."""
    lake = tmp_path_factory.mktemp("ops") / "my lake's"
    for day in (D1, D2):
        generate(lake, day, rows=300, seed=day.day)
    runs = [
        cli("run", "exams.ingest_scores", "--date", day.isoformat(), "--lake", str(lake))
        for day in (D1, D2)
    ]
    return lake, [finish(run) for run in runs]


def test_two_runs_of_different_dates_on_one_lake_both_complete(spark, shared_lake):
    lake, results = shared_lake
    for code, _, err in results:
        assert code == 0, err
        assert "Derby" not in err and "metastore" not in err.lower()
    scores = delta(spark, lake, "exams.scores")
    per_date = {
        r["ingest_date"]: r["count"] for r in scores.groupBy("ingest_date").count().collect()
    }
    assert set(per_date) == {D1, D2}
    assert all(count > 250 for count in per_date.values())
    runs = delta(spark, lake, "lakejobs.job_runs").where(F.col("job") == "exams.ingest_scores")
    statuses = {(r["run_date"], r["status"]) for r in runs.collect()}
    assert statuses == {(D1, "succeeded"), (D2, "succeeded")}
    # Every run_id in the curated table belongs to one of those two runs.
    run_ids = {r["run_id"] for r in runs.collect()}
    assert {r["run_id"] for r in scores.select("run_id").distinct().collect()} <= run_ids
    assert not (lake / "_metastore").exists()  # no metastore was needed


def test_a_failing_run_keeps_java_traces_in_the_log_file_and_names_it(spark, shared_lake, tmp_path):
    lake = tmp_path / "broken lake's copy"
    shutil.copytree(shared_lake[0], lake)
    for data_file in (lake / "curated" / "exams" / "scores").rglob("*.parquet"):
        data_file.write_bytes(b"this is not a parquet file")
    code, _, err = finish(cli("run", "exams.grade", "--date", D1.isoformat(), "--lake", str(lake)))
    assert code == 1
    assert not JAVA_FRAME.search(err), err
    assert "Exception in task" not in err
    match = re.search(r"^lakejobs: Spark log \(Java stack traces\): (.+)$", err, re.MULTILINE)
    assert match, err
    log_file = Path(match.group(1))
    assert log_file.parent == lake / "_logs"
    log = log_file.read_text(encoding="utf-8")
    assert JAVA_FRAME.search(log)
    assert "FAILED_READ_FILE" in log  # the corrupted data file, with its Java trace
    failed = delta(spark, lake, "lakejobs.job_runs").where(F.col("job") == "exams.grade").collect()
    assert [r["status"] for r in failed] == ["failed"]


def test_piped_backfill_logs_whole_lines_skips_undelivered_dates_and_summarises(
    spark, shared_lake, tmp_path
):
    lake = tmp_path / "backfill lake's copy"
    shutil.copytree(shared_lake[0], lake)
    code, out, err = finish(
        cli(
            "backfill",
            "exams.ingest_scores",
            "--from",
            D2.isoformat(),
            "--to",
            D3.isoformat(),
            "--force",
            "--lake",
            str(lake),
        )
    )
    assert code == 0, err
    assert out == ""  # one logger: everything on stderr
    lines = err.splitlines()
    assert any(
        line.startswith("✔ exams.ingest_scores in ")
        and "[exams.scores_quarantine v3, exams.scores v" in line  # v0 created, v1-v2 the two runs
        for line in lines
    ), err
    assert (
        f"backfill 2/2 {D3}: skipping all jobs: no raw files for raw.exam_scores "
        "(--all-dates runs them anyway)" in lines
    )
    summary = [line for line in lines if line.startswith(("2026-11-18 ", "2026-11-19 "))]
    assert len(summary) == 2
    assert "succeeded" in summary[0] and "not delivered" in summary[1]
    assert max(len(line) for line in lines) > 80  # nothing wrapped at 80 columns
    assert not re.search(r"\x1b\[", err)  # no terminal escapes in a pipe
    runs = delta(spark, lake, "lakejobs.job_runs").where(F.col("job") == "exams.ingest_scores")
    by_date = sorted((r["run_date"], r["status"]) for r in runs.collect())
    assert by_date == [(D1, "succeeded"), (D2, "succeeded"), (D2, "succeeded")]
