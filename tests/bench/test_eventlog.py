"""bench/eventlog.py: task metrics per Spark job description, windowed, from both log layouts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))  # the bench scripts import their siblings by name
import eventlog  # noqa: E402


def job_start(job: int, stages: list[int], description: str | None) -> dict:
    properties = {"callSite.short": "save at grade.py:42"}
    if description:
        properties["spark.job.description"] = description
    return {
        "Event": "SparkListenerJobStart",
        "Job ID": job,
        "Stage IDs": stages,
        "Properties": properties,
    }


def task_end(stage: int, finished_s: float, cpu_s: float, spilled: int = 0) -> dict:
    return {
        "Event": "SparkListenerTaskEnd",
        "Stage ID": stage,
        "Task Info": {"Finish Time": int(finished_s * 1000)},
        "Task Metrics": {
            "Executor Run Time": int(cpu_s * 1500),
            "Executor CPU Time": int(cpu_s * 1e9),
            "JVM GC Time": 10,
            "Memory Bytes Spilled": spilled * 3,
            "Disk Bytes Spilled": spilled,
        },
    }


LOG = [
    job_start(0, [0, 1], "lakejobs exams.grade 2026-11-20: write exams.grades"),
    task_end(0, 100.0, 2.0),
    task_end(1, 101.0, 3.0, spilled=500),
    job_start(1, [2], None),
    task_end(2, 200.0, 1.0, spilled=7),
]


def test_costs_are_summed_per_description_and_call_site():
    costs = eventlog.job_costs(LOG)
    grades = costs["lakejobs exams.grade 2026-11-20: write exams.grades | save at grade.py:42"]
    assert (grades.jobs, grades.tasks, grades.cpu_s, grades.disk_spilled) == ({0}, 2, 5.0, 500)
    assert grades.memory_spilled == 1500 and grades.gc_s == pytest.approx(0.02)
    assert costs["(no description) | save at grade.py:42"].tasks == 1


def test_a_window_keeps_only_the_tasks_that_finished_in_it():
    costs = eventlog.job_costs(LOG, since=150.0, until=250.0)
    assert list(costs) == ["(no description) | save at grade.py:42"]


@pytest.mark.parametrize("rolling", [False, True])
def test_plain_and_rolling_logs_read_the_same(tmp_path, rolling):
    lines = [json.dumps(event) for event in LOG]
    if rolling:  # Spark 4's default: a folder of numbered parts
        folder = tmp_path / "eventlog_v2_local-1"
        folder.mkdir()
        (folder / "events_2_local-1").write_text("\n".join(lines[3:]) + "\n")
        (folder / "events_1_local-1").write_text("\n".join(lines[:3]) + "\n")
    else:
        (tmp_path / "local-1").write_text("\n".join(lines) + "\n")
    log = eventlog.app_log(tmp_path, "local-1")
    assert log is not None
    assert eventlog.job_costs(eventlog.events(log)) == eventlog.job_costs(LOG)
    assert eventlog.app_log(tmp_path, "local-2") is None
