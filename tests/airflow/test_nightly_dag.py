"""The nightly DAG under real Apache Airflow 3: it imports cleanly, its graph is the job graph,
the 02:00 run on day D+1 processes day D, its params are checked, and a task run writes its table.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from tests.airflow.conftest import AIRFLOW, ROOT, airflow, inspect_dag

pytestmark = pytest.mark.airflow

DAYS = ["2026-11-20", "2026-12-31", "2028-02-28"]  # a plain day, the year's end, a leap day next
GOOD_CONF = {
    "force": True,
    "date": "2026-01-02",
    "job_params": {"exams.grade": {"scheme": "hs5", "min.n": "30"}},
}
BAD_CONFS = [
    ({"date": "yesterday"}, "Invalid input for param date"),
    ({"profile": "yarn; rm -rf /"}, "Invalid input for param profile"),
    ({"job_params": {"exams.nope": {}}}, "'exams.nope' is not one of"),
    ({"job_params": {"exams.grade": {"bad key": "x"}}}, "'bad key' does not match"),
    ({"force": "yes"}, "Invalid input for param force"),
]
TEST_PROFILE = """
[profiles.airflowtest]
master = "local[2]"
lake = "lake"
metastore = "derby"
[profiles.airflowtest.spark]
"spark.sql.shuffle.partitions" = "2"
"spark.ui.enabled" = "false"
"spark.driver.memory" = "1g"
"""
OLD_STYLE_DAG = """\
from datetime import datetime
from airflow import DAG
from airflow.operators.bash import BashOperator
with DAG(dag_id="old_style", schedule="0 2 * * *", start_date=datetime(2026, 11, 1)):
    BashOperator(task_id="t", bash_command="echo {{ ds }}")
"""


@pytest.fixture(scope="module")
def inspected(airflow_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    request = {"days": DAYS, "confs": [{}, GOOD_CONF, *(conf for conf, _ in BAD_CONFS)]}
    return inspect_dag(airflow_env, request, tmp_path_factory.mktemp("inspect") / "dag.json")


def lakejobs(*args: str) -> str:
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "lakejobs"), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_the_dag_imports_without_errors_or_warnings(inspected: dict):
    assert inspected["import_errors"] == {}
    assert inspected["captured_warnings"] == {}
    assert inspected["warnings"] == []
    assert inspected["dag_ids"] == ["lakejobs_nightly"]


def test_the_warning_check_sees_an_airflow_2_style_dag(airflow_env: dict[str, str], tmp_path: Path):
    """The control for the test above: the pre-Airflow-3 operator import is caught."""
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "old_style.py").write_text(OLD_STYLE_DAG, encoding="utf-8")
    result = inspect_dag(airflow_env, {}, tmp_path / "dag.json", dags_folder=folder)
    assert result["import_errors"] == {}
    [(path, warnings)] = result["captured_warnings"].items()
    assert path.endswith("old_style.py")
    assert "airflow.operators.bash.BashOperator` attribute is deprecated" in warnings[0]


def test_tasks_and_dependencies_are_the_job_graph(inspected: dict):
    graph = json.loads(lakejobs("graph", "nightly", "--format", "json"))
    tasks = inspected["tasks"]
    assert {name: spec["upstream"] for name, spec in tasks.items()} == {
        name: sorted(spec["after"]) for name, spec in graph.items()
    }
    assert {spec["operator"] for spec in tasks.values()} == {
        "airflow.providers.standard.operators.bash.BashOperator"
    }
    # one task at a time on the lake, over all runs and backfills
    assert inspected["max_active_tasks"] == 1
    assert inspected["max_active_runs"] == 1


@pytest.mark.parametrize("day", DAYS)
def test_the_run_at_2am_on_the_next_day_processes_the_day(inspected: dict, day: str):
    runs = inspected["runs"]
    assert runs["timetable"] == "airflow.timetables.interval.CronDataIntervalTimetable"
    run = runs[day]
    next_day = date.fromordinal(date.fromisoformat(day).toordinal() + 1).isoformat()
    assert run["run_after"] == f"{next_day}T02:00:00+00:00"
    assert run["data_interval"] == [f"{day}T02:00:00+00:00", f"{next_day}T02:00:00+00:00"]
    assert run["date"] == day
    # triggered by hand later that morning: still the last complete day
    assert run["manual_9h_later_date"] == day
    # a manual run with no logical date renders no date, and the task script stops on it
    assert run["no_interval_date"] == ""


def test_params_are_checked_by_airflow_and_reach_the_task_as_environment(inspected: dict):
    default, good, *bad = inspected["confs"]
    assert default["exams.grade"] == {
        "LAKEJOBS_DAG_DATE": "2026-11-20",
        "LAKEJOBS_DAG_FORCE": "",
        "LAKEJOBS_DAG_PARAMS": "",
    }
    assert good["exams.grade"] == {
        "LAKEJOBS_DAG_DATE": "2026-01-02",
        "LAKEJOBS_DAG_FORCE": "yes",
        "LAKEJOBS_DAG_PARAMS": "scheme=hs5\nmin.n=30\n",
    }
    # job params go to the job they name only
    assert good["exams.ingest_scores"]["LAKEJOBS_DAG_PARAMS"] == ""
    for (conf, message), result in zip(BAD_CONFS, bad, strict=True):
        assert message in result.get("error", ""), conf


def test_a_task_run_writes_its_table_for_the_previous_day(
    migrated_airflow: dict[str, str], tmp_path: Path
):
    lake = tmp_path / "lake"
    lakejobs("generate", "exams", "--lake", str(lake), "--date", "2026-11-20", "--rows", "500")
    config = tmp_path / "lakejobs.toml"
    config.write_text((ROOT / "lakejobs.toml").read_text(encoding="utf-8") + TEST_PROFILE)
    env = {
        **migrated_airflow,
        # the worker's own settings, read when the task runs; the Variable names the checkout
        "AIRFLOW_VAR_LAKEJOBS_HOME": str(ROOT),
        "LAKEJOBS_HOME": str(tmp_path / "no-checkout-here"),
        "LAKEJOBS_CONFIG": str(config),
        "LAKEJOBS_PROFILE": "airflowtest",
        "LAKEJOBS_LAKE": str(lake),
    }
    # the run Airflow schedules at 02:00 on 2026-11-21 (its `ds` would be 2026-11-21)
    airflow(
        env, "tasks", "test", "lakejobs_nightly", "exams.ingest_scores", "2026-11-21T02:00:00+00:00"
    )
    scores = DeltaTable(str(lake / "curated" / "exams" / "scores")).to_pyarrow_table()
    assert 0 < scores.num_rows <= 500
    assert pc.unique(scores["ingest_date"]).to_pylist() == [date(2026, 11, 20)]
    assert all(r.startswith("exams.ingest_scores@2026-11-20") for r in scores["run_id"].to_pylist())


def test_a_yarn_profile_without_its_conf_fails_the_task_in_one_line(
    migrated_airflow: dict[str, str], tmp_path: Path
):
    env = {
        **migrated_airflow,
        "AIRFLOW_VAR_LAKEJOBS_HOME": str(ROOT),
        "LAKEJOBS_LAKE": str(tmp_path),
    }
    args = ["tasks", "test", "lakejobs_nightly", "exams.ingest_scores", "2026-11-22T02:00:00+00:00"]
    result = subprocess.run(
        [str(AIRFLOW), *args, "--task-params", json.dumps({"profile": "yarn"})],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )
    output = result.stdout + result.stderr
    assert "spark-submit.sh: error: profile 'yarn' submits to YARN: set HADOOP_CONF_DIR" in output
    assert "exit code 2" in output or "return code 2" in output, output[-3000:]
    assert "SparkException" not in output
    assert list(tmp_path.iterdir()) == []
