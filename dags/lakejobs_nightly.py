"""Airflow 3 DAG for the lakejobs nightly run: one task per job, dependencies from the job graph.

Drop this file and `lakejobs_nightly.json` into your DAGs folder (docs/airflow.md). The JSON is
generated from the code, never edited by hand:

    lakejobs graph nightly --format json --out dags/lakejobs_nightly.json

and a test fails when it no longer matches the jobs' declared inputs and outputs.

- **Which day.** The run at 02:00 on day D+1 processes date D: the timetable is the data interval
  of the previous day (`CronDataIntervalTimetable`), and the job's `--date` is the interval's
  start, not `ds` (Airflow 3 makes `ds` the moment a cron run fires: D+1). The `date` param
  overrides it for a re-run of a given day.
- **Settings on the worker.** Nothing but the graph is read when the scheduler parses this file:
  the checkout (`lakejobs_home` Variable, else `$LAKEJOBS_HOME`, else /opt/lakejobs), the profile
  (`profile` param, else the `lakejobs_profile` Variable, else lakejobs' own default:
  `$LAKEJOBS_PROFILE`, then `local`) and the lake (`$LAKEJOBS_LAKE` or the profile's) are resolved
  when a task runs, on the worker.
- **Safe to retry.** Jobs skip themselves when they already succeeded on the same inputs (the
  `force` param re-runs them), and each job replaces its date slice in one Delta commit.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

GRAPH: dict[str, dict] = json.loads(
    (Path(__file__).with_name("lakejobs_nightly.json")).read_text(encoding="utf-8")
)
DAG_ID = "lakejobs_nightly"
CRON = "0 2 * * *"
TIMEZONE = "UTC"
# Tasks of this DAG running at once, over all its runs and backfills. One lake's embedded Derby
# metastore admits a single Spark process, so this stays 1 until the lake's metastore is shared.
LAKE_TASK_SLOTS = 1

PROFILE_PATTERN = r"^([a-z][a-z0-9_-]{0,31})?$"
DATE_PATTERN = r"^(\d{4}-\d{2}-\d{2})?$"
PARAM_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"

# The job's --date: the `date` param, else the start of the run's data interval in the DAG's time
# zone. A manual run triggered without a logical date has no interval: the script then stops.
DATE_TEMPLATE = (
    "{{ params.date or (data_interval_start.in_timezone('" + TIMEZONE + "') | ds "
    "if data_interval_start is defined and data_interval_start else '') }}"
)

# One script for every task. Run-time values arrive as environment variables (rendered by Airflow
# on the worker), never pasted into the script, so no param can inject shell code.
TASK_SCRIPT = """\
set -euo pipefail
export LAKEJOBS_HOME="${LAKEJOBS_DAG_HOME:-${LAKEJOBS_HOME:-/opt/lakejobs}}"
home="$LAKEJOBS_HOME"
if [[ -z "$LAKEJOBS_DAG_DATE" ]]; then
  echo "lakejobs_nightly: no date: trigger with a logical date or set the 'date' param" >&2
  exit 2
fi
if [[ ! -x "$home/spark-submit.sh" ]]; then
  echo "lakejobs_nightly: no lakejobs checkout at $home: set the lakejobs_home Variable or LAKEJOBS_HOME on the worker" >&2
  exit 2
fi
submit=()
if [[ -n "$LAKEJOBS_DAG_PROFILE" ]]; then submit+=(--profile "$LAKEJOBS_DAG_PROFILE"); fi
job=(--date "$LAKEJOBS_DAG_DATE")
if [[ -n "$LAKEJOBS_DAG_FORCE" ]]; then job+=(--force); fi
while IFS= read -r pair; do
  if [[ -n "$pair" ]]; then job+=(--param "$pair"); fi
done <<< "$LAKEJOBS_DAG_PARAMS"
exec "$home/spark-submit.sh" "${submit[@]}" "$home/$LAKEJOBS_DAG_JOB_FILE" "${job[@]}"
"""


def task_env(name: str) -> dict[str, str]:
    """The templated environment of one task: what the script needs, resolved at run time."""
    return {
        "LAKEJOBS_DAG_JOB_FILE": GRAPH[name]["file"],
        "LAKEJOBS_DAG_DATE": DATE_TEMPLATE,
        "LAKEJOBS_DAG_HOME": "{{ var.value.get('lakejobs_home', '') }}",
        "LAKEJOBS_DAG_PROFILE": "{{ params.profile or var.value.get('lakejobs_profile', '') }}",
        "LAKEJOBS_DAG_FORCE": "{{ 'yes' if params.force else '' }}",
        "LAKEJOBS_DAG_PARAMS": (
            "{% for key, value in params.job_params.get('" + name + "', {}).items() %}"
            "{{ key }}={{ value }}\n{% endfor %}"
        ),
    }


def dag_params() -> dict:
    """The run's params (trigger form / `--conf` / `tasks test -t`), checked by Airflow."""
    from airflow.sdk import Param

    return {
        "date": Param(
            "",
            type="string",
            pattern=DATE_PATTERN,
            description="YYYY-MM-DD to process instead of the data interval's day (re-runs)",
        ),
        "profile": Param(
            "",
            type="string",
            pattern=PROFILE_PATTERN,
            description="profile in lakejobs.toml; empty: the lakejobs_profile Variable, else "
            "$LAKEJOBS_PROFILE on the worker, else local",
        ),
        "force": Param(
            False, type="boolean", description="re-run jobs that already succeeded on these inputs"
        ),
        "job_params": Param(
            {},
            type="object",
            propertyNames={"enum": sorted(GRAPH)},
            additionalProperties={
                "type": "object",
                "propertyNames": {"pattern": PARAM_KEY_PATTERN},
                "additionalProperties": {"type": "string", "pattern": r"^[^\n]*$"},
            },
            description='--param KEY=VALUE per job, e.g. {"exams.grade": {"scheme": "hs5"}}',
        ),
    }


def build_dag():  # returns an airflow.sdk.DAG; Airflow is imported lazily
    import pendulum
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG, CronDataIntervalTimetable

    with DAG(
        dag_id=DAG_ID,
        description="lakejobs nightly: yesterday's deliveries -> curated Delta tables",
        schedule=CronDataIntervalTimetable(CRON, timezone=TIMEZONE),
        start_date=pendulum.datetime(2026, 11, 1, tz=TIMEZONE),
        catchup=False,
        max_active_runs=1,
        max_active_tasks=LAKE_TASK_SLOTS,
        params=dag_params(),
        default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
        tags=["lakejobs"],
    ) as dag:
        tasks = {
            name: BashOperator(
                task_id=name,
                bash_command=TASK_SCRIPT,
                env=task_env(name),
                append_env=True,
                skip_on_exit_code=None,
                do_xcom_push=False,
            )
            for name in GRAPH
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
