"""Run by the Airflow venv's python (not the project's): what Airflow itself makes of the DAG.

    inspect_dag.py DAGS_FOLDER '{"days": ["2026-11-20"], "confs": [{"force": true}]}' OUT.json

writes one JSON object (Airflow logs to stdout): the DAG folder's import errors and warnings; the tasks with their operator
and upstream tasks; for each day D, the scheduler's next run after D-1's (from the serialized DAG's
timetable, as the scheduler sees it) and the `--date` that Airflow's template environment renders
from that run's data interval; for each run conf, Airflow's param validation and the rendered
run-time environment of the tasks.
"""

from __future__ import annotations

import copy
import json
import sys
import warnings
from datetime import timedelta

import pendulum
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import ParamValidationError
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import DataInterval, TimeRestriction

RENDERED = ("LAKEJOBS_DAG_DATE", "LAKEJOBS_DAG_FORCE", "LAKEJOBS_DAG_PARAMS")


def scheduled_runs(dag, days: list[str], render) -> dict:
    scheduled = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    timetable = scheduled.timetable
    restriction = TimeRestriction(earliest=scheduled.start_date, latest=None, catchup=True)
    runs = {"timetable": f"{type(timetable).__module__}.{type(timetable).__name__}"}
    for day in days:
        start = pendulum.parse(day, tz=timetable._timezone) + timedelta(hours=2)
        info = timetable.next_dagrun_info(
            last_automated_data_interval=DataInterval(start - timedelta(days=1), start),
            restriction=restriction,
        )
        manual = timetable.infer_manual_data_interval(run_after=info.run_after + timedelta(hours=9))
        runs[day] = {
            "run_after": info.run_after.isoformat(),
            "data_interval": [
                info.data_interval.start.isoformat(),
                info.data_interval.end.isoformat(),
            ],
            "date": render("LAKEJOBS_DAG_DATE", data_interval_start=info.data_interval.start),
            "manual_9h_later_date": render("LAKEJOBS_DAG_DATE", data_interval_start=manual.start),
            "no_interval_date": render("LAKEJOBS_DAG_DATE"),
        }
    return runs


def main(dags_folder: str, request: dict) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=dags_folder, safe_mode=False)
    out: dict = {
        "import_errors": bag.import_errors,
        "captured_warnings": {k: list(v) for k, v in bag.captured_warnings.items()},
        "warnings": [f"{w.category.__name__}: {w.message} ({w.filename})" for w in caught],
        "dag_ids": sorted(bag.dags),
    }
    dag = bag.dags.get("lakejobs_nightly")
    if dag is None:
        return out
    out["tasks"] = {
        t.task_id: {
            "operator": f"{type(t).__module__}.{type(t).__name__}",
            "upstream": sorted(t.upstream_task_ids),
        }
        for t in dag.tasks
    }
    out["max_active_tasks"] = dag.max_active_tasks
    out["max_active_runs"] = dag.max_active_runs
    env = dag.get_template_env()

    def render(key: str, task_id: str = "exams.grade", params=None, **context) -> str:
        template = dag.get_task(task_id).env[key]
        params = params if params is not None else dag.params.validate()
        return env.from_string(template).render(params=params, **context)

    out["runs"] = scheduled_runs(dag, request.get("days", []), render)
    out["confs"] = []
    interval_start = pendulum.datetime(2026, 11, 20, 2, tz="UTC")
    for conf in request.get("confs", []):
        params = copy.deepcopy(dag.params)
        try:
            params.update(conf)
            resolved = params.validate()
        except ParamValidationError as exc:
            out["confs"].append({"error": str(exc)})
            continue
        out["confs"].append(
            {
                task: {
                    k: render(k, task, resolved, data_interval_start=interval_start)
                    for k in RENDERED
                }
                for task in ("exams.grade", "exams.ingest_scores")
            }
        )
    return out


if __name__ == "__main__":
    result = main(sys.argv[1], json.loads(sys.argv[2]))
    with open(sys.argv[3], "w", encoding="utf-8") as out:
        json.dump(result, out)
