"""The run log tells the truth: a row from the start of every run, updated at its end; a run whose
process died is marked abandoned by the next run; a second run of the same job and date refuses."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.exams import grade, ingest_scores
from jobs.exams.generate import generate_exam_scores
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.errors import DataQualityError
from lakejobs.job import RunContext
from lakejobs.lake import LakeLayout
from lakejobs.locks import Process, process_start
from lakejobs.pipeline import run_job, run_jobs, select_jobs
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = date(2026, 11, 20)
ROWS = 2_000
QUIET = {"echo": lambda line: None}


def settings_for(lake: Path):
    return dataclasses.replace(TEST_SETTINGS, lake=str(lake))


def table(spark, lake: Path, name: str) -> DataFrame:
    tables = Catalog(spark, LakeLayout(settings_for(lake).lake))
    return spark.read.format("delta").load(tables.location(table_contract(name)))


def run_log(spark, lake: Path) -> dict[str, dict]:
    rows = [r.asDict() for r in table(spark, lake, "lakejobs.job_runs").collect()]
    by_id = {r["run_id"]: r for r in rows}
    assert len(by_id) == len(rows), "one row per run_id"
    return by_id


def run_ids(spark, lake: Path, name: str) -> set[str]:
    return {r["run_id"] for r in table(spark, lake, name).select("run_id").distinct().collect()}


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    generate_exam_scores(root, RUN_DATE, ROWS, dirty_share=0.05)
    return root


def test_a_process_is_told_apart_from_a_reused_pid():
    me = Process.current()
    assert me.pid == os.getpid() and me.alive() is True
    assert dataclasses.replace(me, start="another-boot:1").alive() is False  # the pid was reused
    assert dataclasses.replace(me, host=me.host + "-elsewhere").alive() is None  # not checkable
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start(child.pid)
    child.wait()
    assert Process(socket.gethostname(), child.pid, start).alive() is False


def test_a_run_has_a_running_row_while_it_runs_and_one_final_row_after(spark, lake):
    settings = settings_for(lake)
    seen: dict[str, dict] = {}

    def observed(ctx: RunContext, inputs):
        seen.update(run_log(spark, lake)[ctx.run_id])
        return ingest_scores.JOB.transform(ctx, inputs)

    job = dataclasses.replace(ingest_scores.JOB, transform=observed)
    record = run_job(spark, settings, job, RUN_DATE, **QUIET)
    assert seen["status"] == "running" and seen["finished_at"] is None
    assert seen["duration_s"] is None and seen["rows_in"] is None
    assert (seen["host"], seen["pid"]) == (socket.gethostname(), os.getpid())
    assert seen["process_start"] == process_start(os.getpid())

    final = run_log(spark, lake)
    assert list(final) == [record.run_id]
    row = final[record.run_id]
    assert row["status"] == "succeeded" and row["finished_at"] >= row["started_at"]
    assert row["rows_in"] == ROWS and row["pid"] == os.getpid() and row["params"] == "{}"
    assert run_ids(spark, lake, "exams.scores") == {record.run_id}

    def broken(ctx: RunContext, inputs):
        raise DataQualityError("broken on purpose")

    failed = run_job(
        spark, settings, dataclasses.replace(job, transform=broken), RUN_DATE, force=True, **QUIET
    )
    final = run_log(spark, lake)
    assert set(final) == {record.run_id, failed.run_id}
    assert final[failed.run_id]["status"] == "failed"
    assert final[failed.run_id]["error"] == "broken on purpose"
    assert final[failed.run_id]["finished_at"] is not None


HANGING_RUN = """
import dataclasses, json, pathlib, sys, time
from datetime import date, datetime
from jobs.exams import ingest_scores
from lakejobs import runlog
from lakejobs.config import Settings
from lakejobs.pipeline import run_job
from lakejobs.session import build_session

lake, marker, conf = sys.argv[1], pathlib.Path(sys.argv[2]), json.loads(sys.argv[3])
settings = Settings(profile="test", lake=lake, master="local[1]", metastore="derby-memory",
                    spark_conf=conf)

def hang_before_finishing(catalog, record):
    # The run's outputs are committed (the tables carry its run_id); its final row never comes.
    marker.write_text(record.run_id)
    time.sleep(900)

runlog.finish = hang_before_finishing
run_job(build_session(settings), settings, ingest_scores.JOB, date(2026, 11, 20),
        echo=lambda line: None)
"""


def test_a_run_killed_after_committing_is_marked_abandoned_by_the_next_run(spark, lake, tmp_path):
    marker = tmp_path / "committed"
    conf = dict(TEST_SETTINGS.spark_conf)
    # A file, not `python -c`: pyspark takes a __main__ without __file__ for its own doctests
    # and exits when pyspark.sql.connect is imported.
    script = tmp_path / "hanging_run.py"
    script.write_text(HANGING_RUN, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), str(lake), str(marker), json.dumps(conf)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 900
        while not marker.exists():
            if process.poll() is not None or time.monotonic() > deadline:  # a guard, not a timing
                pytest.fail(f"the hanging run never committed (exit code {process.poll()})")
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    killed = marker.read_text()
    assert run_ids(spark, lake, "exams.scores") == {killed}
    before = run_log(spark, lake)[killed]
    assert before["status"] == "running" and before["pid"] == process.pid

    # The next run, of another job: it marks the dead run at its start.
    record = run_job(spark, settings_for(lake), grade.JOB, RUN_DATE, **QUIET)
    assert record.status == "succeeded"
    log = run_log(spark, lake)
    assert log[killed]["status"] == "abandoned"
    assert log[killed]["error"] == (
        f"process {process.pid} on {socket.gethostname()} ended without finishing the run (killed?)"
    )
    assert log[killed]["finished_at"] is not None
    for name in ("exams.scores", "exams.scores_quarantine"):  # the tables with a run_id column
        assert run_ids(spark, lake, name) <= set(log), name  # every run_id in a table is logged

    # The dead run's lock died with it, and an abandoned run is not "already done".
    again = run_jobs(spark, settings_for(lake), select_jobs("exams"), RUN_DATE, **QUIET)
    assert [(r.job, r.status) for r in again.records] == [
        ("exams.ingest_scores", "succeeded"),
        ("exams.grade", "succeeded"),
    ]
    statuses = table(spark, lake, "lakejobs.job_runs").groupBy("status").count().collect()
    assert {r["status"]: r["count"] for r in statuses} == {"abandoned": 1, "succeeded": 3}


def light_profile(tmp_path: Path) -> Path:
    """A lakejobs.toml whose `test` profile is small and has a private in-memory metastore."""
    conf = "\n".join(f'"{k}" = "{v}"' for k, v in TEST_SETTINGS.spark_conf.items())
    path = tmp_path / "lakejobs.toml"
    path.write_text(
        '[profiles.test]\nmaster = "local[1]"\nmetastore = "derby-memory"\n'
        f"[profiles.test.spark]\n{conf}\n",
        encoding="utf-8",
    )
    return path


def test_a_second_run_of_the_same_job_and_date_refuses_in_one_line(spark, lake, tmp_path):
    config = light_profile(tmp_path)
    second: dict[str, subprocess.CompletedProcess[str]] = {}
    where = ["--lake", str(lake), "--date", RUN_DATE.isoformat(), "--profile", "test"]

    def run_another_process_meanwhile(ctx: RunContext, inputs):
        # While this run holds the job's lock: the same command from another process.
        second["result"] = subprocess.run(
            [sys.executable, "-m", "lakejobs.cli", "run", "exams.ingest_scores", *where],
            cwd=REPO,
            env={**os.environ, "LAKEJOBS_CONFIG": str(config)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        return ingest_scores.JOB.transform(ctx, inputs)

    job = dataclasses.replace(ingest_scores.JOB, transform=run_another_process_meanwhile)
    record = run_job(spark, settings_for(lake), job, RUN_DATE, **QUIET)
    assert record.status == "succeeded"

    result = second["result"]
    assert result.returncode == 1, result.stderr[-2000:]
    ours = [line for line in result.stderr.splitlines() if line.startswith("lakejobs:")]
    prefix = (
        f"lakejobs: failed: exams.ingest_scores {RUN_DATE} is running in pid {os.getpid()} since "
    )
    assert len(ours) == 1 and ours[0].startswith(prefix), result.stderr[-2000:]
    time.strptime(ours[0].removeprefix(prefix), "%Y-%m-%d %H:%M:%S UTC")  # a start time
    assert "Traceback" not in result.stderr

    # A refused run is not a run: the log holds only the first run, and no row of the other pid.
    log = run_log(spark, lake)
    assert list(log) == [record.run_id] and log[record.run_id]["status"] == "succeeded"
    assert table(spark, lake, "lakejobs.job_runs").where(F.col("pid") != os.getpid()).isEmpty()


def test_a_run_log_from_before_start_rows_is_upgraded_in_place(spark, lake):
    from delta.tables import DeltaTable
    from pyspark.sql.types import StructField, StructType

    contract = table_contract("lakejobs.job_runs")
    new = ("host", "pid", "process_start")
    old = StructType(
        [
            StructField(f.name, f.dataType, False) if f.name in ("finished_at", "duration_s") else f
            for f in contract.schema.fields
            if f.name not in new
        ]
    )
    location = Catalog(spark, LakeLayout(settings_for(lake).lake)).location(contract)
    DeltaTable.createIfNotExists(spark).location(location).addColumns(old).execute()
    when = datetime(2026, 11, 19, 1, 0)
    old_row = {
        "run_id": "old-run",
        "job": "exams.grade",
        "run_date": date(2026, 11, 19),
        "params": "{}",
        "status": "succeeded",
        "started_at": when,
        "finished_at": when,
        "duration_s": 1.0,
        "input_versions": {},
        "output_versions": {},
    }
    spark.createDataFrame([old_row], old).write.format("delta").mode("append").save(location)

    record = run_job(spark, settings_for(lake), ingest_scores.JOB, RUN_DATE, **QUIET)
    log = run_log(spark, lake)
    assert log["old-run"]["host"] is None and log["old-run"]["status"] == "succeeded"
    assert log[record.run_id]["status"] == "succeeded" and log[record.run_id]["pid"] == os.getpid()
    upgraded = {f.name: f.nullable for f in table(spark, lake, "lakejobs.job_runs").schema.fields}
    assert upgraded["finished_at"] and upgraded["duration_s"] and "process_start" in upgraded
