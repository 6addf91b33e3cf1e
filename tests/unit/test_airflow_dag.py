"""The example Airflow DAG stays in step with the job graph derived from the code."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from lakejobs.graph import to_json
from lakejobs.pipeline import select_jobs

DAGS = Path(__file__).resolve().parents[2] / "dags"


def load_dag_module():
    spec = importlib.util.spec_from_file_location("lakejobs_nightly", DAGS / "lakejobs_nightly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dag_graph_is_the_code_graph():
    committed = json.loads((DAGS / "lakejobs_nightly.json").read_text())
    assert committed == json.loads(to_json(select_jobs("nightly"))), (
        "dags/lakejobs_nightly.json is out of date: run "
        "`lakejobs graph nightly --format json --out dags/lakejobs_nightly.json`"
    )


def test_every_task_runs_an_existing_job_file_through_spark_submit():
    module = load_dag_module()
    root = DAGS.parent
    for name, spec in module.GRAPH.items():
        assert (root / spec["file"]).is_file(), name
        command = module.task_command(spec["file"])
        assert "/spark-submit.sh --profile " in command
        assert command.endswith(f"/{spec['file']} --date {{{{ ds }}}}")
        assert set(spec["after"]) <= set(module.GRAPH)
