"""Job files submitted with ./spark-submit.sh to a Spark standalone cluster (a master and two
workers started with spark-class) give the local run's output, even when a worker dies mid-run.

To keep the suite small, one pass does both: ingest_scores loses a worker mid-run, the worker is
restarted, grade runs, and every output table is compared with the local run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backends.clusters import REPO_ROOT, Standalone, start_worker
from tests.backends.support import (
    RUN_DATE,
    SUBMIT_TIMEOUT_S,
    assert_same_tables,
    job_file,
    job_succeeded,
    python_conf,
    settings_for,
    spark_submit,
)

pytestmark = pytest.mark.standalone


def local_lake_copy(exams_raw: Path, root: Path) -> str:
    """A fresh file: lake holding the shared raw delivery (workers share this machine's disk)."""
    shutil.copytree(exams_raw / "raw", root / "raw")
    return settings_for(str(root)).lake


def submit_args(cluster: Standalone, lake: str, path: str) -> list[str]:
    return [
        "--master",
        cluster.url,
        "--lake",
        lake,
        *python_conf(),
        "--conf",
        "spark.executor.memory=768m",
        path,
        "--date",
        str(RUN_DATE),
    ]


def _both_workers_run_executors(cluster: Standalone) -> bool:
    workers = cluster.alive_workers()
    return len(workers) == 2 and all(w["coresused"] > 0 for w in workers)


def _executor_finished_a_task(cluster: Standalone, worker: int) -> bool:
    """The worker's executor has done work for the job (its log, in the worker's work dir)."""
    logs = (cluster.workdir / f"worker-{worker}").glob("app-*/*/stderr")
    return any("Finished task" in log.read_text(errors="replace") for log in logs)


@dataclass(frozen=True)
class FaultyRun:
    """ingest_scores with a worker SIGKILLed mid-run, then grade on the repaired cluster."""

    lake: str
    ingest_exit: int
    ingest_output: str
    alive_after_kill: int
    grade: subprocess.CompletedProcess


def submit_and_kill_a_worker(cluster: Standalone, lake: str, cwd: Path) -> tuple[int, str, int]:
    """Submit ingest_scores; once the master shows executors on both workers and worker 0's executor
    has finished a task, SIGKILL worker 0's process group (the worker and its executor, as a lost
    node). Returns the job's exit code, its output and how many workers the master still saw
    alive when the job ended."""
    command = [
        str(REPO_ROOT / "spark-submit.sh"),
        *submit_args(cluster, lake, job_file("exams/ingest_scores.py")),
    ]
    log = cwd / "ingest.log"
    with log.open("w") as out:
        submitted = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SUBMIT_TIMEOUT_S  # hang guards only, no timing assertions
        while not (_both_workers_run_executors(cluster) and _executor_finished_a_task(cluster, 0)):
            if submitted.poll() is not None:
                pytest.fail(
                    f"the job ended before executors ran on both workers:\n{log.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail("the application never had executors on both workers")
            time.sleep(0.1)
        victim = cluster.workers[0]
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        code = submitted.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail("the job did not finish after the worker was killed")
    finally:
        if submitted.poll() is None:
            os.killpg(submitted.pid, signal.SIGKILL)
            submitted.wait()
    return code, log.read_text(), len(cluster.alive_workers())


@pytest.fixture(scope="module")
def faulty_run(standalone_cluster: Standalone, exams_raw: Path, tmp_path_factory) -> FaultyRun:
    """The exams jobs submitted to the cluster; a worker dies during the first one and is
    restarted before the second (as a cluster manager would), so both run on two workers."""
    cwd = tmp_path_factory.mktemp("standalone-run")
    lake = local_lake_copy(exams_raw, cwd / "lake")
    code, output, alive = submit_and_kill_a_worker(standalone_cluster, lake, cwd)
    standalone_cluster.workers[0] = start_worker(standalone_cluster, 0)
    grade = None
    if code == 0:
        deadline = time.monotonic() + SUBMIT_TIMEOUT_S
        while len(standalone_cluster.alive_workers()) < 2:
            if time.monotonic() > deadline:
                pytest.fail("the restarted worker never registered")
            time.sleep(0.25)
        grade = spark_submit(
            submit_args(standalone_cluster, lake, job_file("exams/grade.py")), cwd=cwd
        )
    return FaultyRun(lake, code, output, alive, grade)


def test_a_job_survives_a_worker_killed_mid_run(faulty_run: FaultyRun):
    assert faulty_run.ingest_exit == 0, faulty_run.ingest_output[-3000:]
    assert "✔ exams.ingest_scores" in faulty_run.ingest_output
    assert faulty_run.alive_after_kill == 1  # the master saw the worker go


def test_exams_job_files_on_the_standalone_cluster_match_the_local_run(
    spark, standalone_cluster: Standalone, faulty_run: FaultyRun, exams_reference: str
):
    assert faulty_run.grade is not None, "ingest_scores failed (see the test above)"
    assert job_succeeded(faulty_run.grade, "exams.grade"), faulty_run.grade.stderr[-3000:]
    assert_same_tables(spark, exams_reference, faulty_run.lake)  # ingest's tables and grade's
    finished = standalone_cluster.state()["completedapps"]  # both ran on the cluster
    assert len([app for app in finished if app["state"] == "FINISHED"]) >= 2
