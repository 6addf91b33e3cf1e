"""The example Airflow DAG stays in step with the job graph, and its task script fails clearly.

These run without Airflow (the DAG module still exposes its graph and script); tests/airflow runs
the DAG with real Airflow 3.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

from lakejobs.graph import to_json
from lakejobs.pipeline import select_jobs

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"


def load_dag_module():
    spec = importlib.util.spec_from_file_location("lakejobs_nightly", DAGS / "lakejobs_nightly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_task_script(module, name: str, **values: str) -> subprocess.CompletedProcess:
    """The task's script as BashOperator runs it, with the environment Airflow would render."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LAKEJOBS_", "HADOOP_", "YARN_"))
    }
    env.update(
        LAKEJOBS_DAG_JOB_FILE=module.GRAPH[name]["file"],
        LAKEJOBS_DAG_DATE="2026-11-20",
        LAKEJOBS_DAG_HOME=str(ROOT),
        LAKEJOBS_DAG_PROFILE="",
        LAKEJOBS_DAG_FORCE="",
        LAKEJOBS_DAG_PARAMS="",
    )
    env.update(values)
    return subprocess.run(
        ["bash", "-c", module.TASK_SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )


def test_the_dag_graph_is_the_code_graph():
    committed = json.loads((DAGS / "lakejobs_nightly.json").read_text())
    assert committed == json.loads(to_json(select_jobs("nightly"))), (
        "dags/lakejobs_nightly.json is out of date: run "
        "`lakejobs graph nightly --format json --out dags/lakejobs_nightly.json`"
    )


def test_every_task_runs_an_existing_job_file_and_no_value_enters_the_script():
    module = load_dag_module()
    assert module.dag is None  # no Airflow in the project's venv
    for name, spec in module.GRAPH.items():
        assert (ROOT / spec["file"]).is_file(), name
        env = module.task_env(name)
        assert env["LAKEJOBS_DAG_JOB_FILE"] == spec["file"]
        assert f"'{name}'" in env["LAKEJOBS_DAG_PARAMS"]
        assert set(spec["after"]) <= set(module.GRAPH)
    # params and Variables reach the script only as environment variables
    assert not any(mark in module.TASK_SCRIPT for mark in ("{{", "{%", "{#"))
    assert "data_interval_start" in module.DATE_TEMPLATE
    assert "{{ ds }}" not in module.DATE_TEMPLATE


def test_a_run_without_a_date_stops_before_spark():
    result = run_task_script(load_dag_module(), "exams.grade", LAKEJOBS_DAG_DATE="")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "lakejobs_nightly: no date: trigger with a logical date or set the 'date' param"
    )


def test_a_worker_without_the_checkout_is_told_where_to_set_it(tmp_path: Path):
    result = run_task_script(load_dag_module(), "exams.grade", LAKEJOBS_DAG_HOME=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"lakejobs_nightly: no lakejobs checkout at {tmp_path}: set the lakejobs_home Variable "
        "or LAKEJOBS_HOME on the worker"
    )


def test_a_yarn_profile_without_its_hadoop_conf_fails_in_one_line():
    result = run_task_script(load_dag_module(), "exams.grade", LAKEJOBS_DAG_PROFILE="yarn")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "spark-submit.sh: error: profile 'yarn' submits to YARN: set HADOOP_CONF_DIR or "
        "YARN_CONF_DIR to the cluster's Hadoop configuration folder "
        "(docs/running-on-emr-and-yarn.md)"
    )


def test_an_unknown_profile_fails_in_one_line():
    result = run_task_script(load_dag_module(), "exams.grade", LAKEJOBS_DAG_PROFILE="nosuch")
    assert result.returncode == 2
    assert result.stderr.startswith("spark-submit.sh: error: ")
    assert "nosuch" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_job_files_take_the_force_flag_the_dag_passes():
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            str(ROOT / "jobs" / "exams" / "grade.py"),
            "--help",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "--force" in result.stdout
    assert "--param KEY=VALUE" in result.stdout
