"""Airflow DAG for the lakejobs nightly run: one task per job, dependencies from the job graph.

Drop this file and `lakejobs_nightly.json` into your DAGs folder. Each task runs
`spark-submit.sh <job file> --date {{ ds }}` from a lakejobs checkout on the worker
(`LAKEJOBS_HOME`, default /opt/lakejobs) with the profile in the Airflow Variable
`lakejobs_profile` (default `yarn`). The JSON is generated from the code, never edited by hand:

    lakejobs graph nightly --format json --out dags/lakejobs_nightly.json

and a test fails when it no longer matches the jobs' declared inputs and outputs. Jobs skip
themselves when they already succeeded on the same inputs, so Airflow retries and re-runs of a
date are safe.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

LAKEJOBS_HOME = os.environ.get("LAKEJOBS_HOME", "/opt/lakejobs")
GRAPH: dict[str, dict] = json.loads(
    (Path(__file__).with_name("lakejobs_nightly.json")).read_text(encoding="utf-8")
)


def task_command(job_file: str) -> str:
    """The shell command of one task (Airflow renders the Jinja templates)."""
    return (
        f"{LAKEJOBS_HOME}/spark-submit.sh --profile {{{{ var.value.get('lakejobs_profile', 'yarn') }}}} "
        f"{LAKEJOBS_HOME}/{job_file} --date {{{{ ds }}}}"
    )


def build_dag():  # returns an airflow.DAG; Airflow is imported lazily
    from airflow import DAG
    from airflow.operators.bash import BashOperator

    with DAG(
        dag_id="lakejobs_nightly",
        schedule="0 2 * * *",
        start_date=datetime(2026, 11, 1),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
        tags=["lakejobs"],
    ) as dag:
        tasks = {
            name: BashOperator(task_id=name, bash_command=task_command(spec["file"]))
            for name, spec in GRAPH.items()
        }
        for name, spec in GRAPH.items():
            for upstream in spec["after"]:
                tasks[upstream] >> tasks[name]
    return dag


try:
    import airflow  # noqa: F401
except ImportError:  # imported outside Airflow (tests, docs): the graph is still readable
    dag = None
else:
    dag = build_dag()
