"""Real Apache Airflow 3 from its own venv (`make airflow-venv`), in a scratch AIRFLOW_HOME.

Airflow runs only in subprocesses: its dependencies never meet the project's. The DAG folder is
the repository's dags/, exactly as a user would deploy it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VENV = ROOT / ".airflow-venv"
AIRFLOW = AIRFLOW_VENV / "bin" / "airflow"
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of an Airflow installation with its own home and our DAG folder."""
    if not AIRFLOW.is_file():
        pytest.fail(f"{AIRFLOW} not found: run `make airflow-venv` (part of `make test`)")
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "LAKEJOBS_", "HADOOP_", "YARN_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        GX_ANALYTICS_ENABLED="false",
        SPARK_LOCAL_IP="127.0.0.1",
    )
    return env


@pytest.fixture(scope="session")
def migrated_airflow(airflow_env: dict[str, str]) -> dict[str, str]:
    """`airflow db migrate` once per session (sqlite), for the commands that need a database."""
    airflow(airflow_env, "db", "migrate", timeout=600)
    return airflow_env


def airflow(env: dict[str, str], *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run the Airflow CLI; a non-zero exit fails the test with Airflow's own output."""
    result = subprocess.run(
        [str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    if result.returncode != 0:
        pytest.fail(
            f"airflow {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}"
        )
    return result


def inspect_dag(
    env: dict[str, str], request: dict, out: Path, dags_folder: Path = ROOT / "dags"
) -> dict:
    """What Airflow makes of a DAG folder (inspect_dag.py, run by the Airflow venv's python)."""
    python = AIRFLOW_VENV / "bin" / "python"
    result = subprocess.run(
        [
            str(python),
            str(HERE / "inspect_dag.py"),
            str(dags_folder),
            json.dumps(request),
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(out.read_text(encoding="utf-8"))
