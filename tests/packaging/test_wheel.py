"""An installed wheel runs a job: `pip wheel` the project, install it into a clean venv, and from a
folder outside the repository (no PYTHONPATH, no lakejobs.toml, no checkout to fall back on)
generate a raw lake with the installed `lakejobs` and spark-submit the ingest job file that the
installed `jobs` package holds. Only the JVM jars come from the checkout, through LAKEJOBS_JARS,
as a deployment names its jar folder.

The venv is built once per session (minutes: pyspark alone is a 450 MB wheel, installed from
pip's cache); the test is skipped only when PyPI cannot be reached to resolve the dependencies.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from deltalake import DeltaTable

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = "2026-11-20"
ROWS = 2_000
# What the wheel is built from: the project's metadata and its two packages, copied so the build
# leaves nothing (build/, *.egg-info) in the checkout.
SOURCES = ("pyproject.toml", "README.md", "lib", "jobs")
INSTALL_TIMEOUT_S = 1800  # guards against hanging, not performance checks
RUN_TIMEOUT_S = 900


def _pypi_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=10):
            return True
    except OSError:
        return False


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int):
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@dataclass(frozen=True)
class Installed:
    """A clean venv with the lakejobs wheel installed."""

    venv: Path
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    if not _pypi_reachable():
        pytest.skip("PyPI (pypi.org:443) is unreachable: the wheel's dependencies cannot resolve")
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        ignore = {"ignore": shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")}
        copy(REPO / name, source / name, **(ignore if copy is shutil.copytree else {}))
    dist = root / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(dist),
            str(source),
        ],
        cwd=root,
        timeout=INSTALL_TIMEOUT_S,
    )
    (wheel,) = dist.glob("lakejobs-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root, timeout=INSTALL_TIMEOUT_S)
    _run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        cwd=root,
        timeout=INSTALL_TIMEOUT_S,
    )
    return Installed(venv, wheel)


def outside_env(installed: Installed) -> dict[str, str]:
    """The environment of a user outside the repository: the venv first on PATH, no lakejobs
    variable but the jar folder, no PYTHONPATH or Spark home that could reach the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAKEJOBS_", "PYSPARK_", "SPARK_")) and k not in ("PYTHONPATH",)
    }
    env["PATH"] = f"{installed.bin}{os.pathsep}{env.get('PATH', '')}"
    env["LAKEJOBS_JARS"] = str(REPO / ".jars")
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return env


def test_the_wheel_holds_the_contracts_and_the_log4j_configuration(installed: Installed):
    import zipfile

    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert "jobs/schemas/grading_schemes.json" in names
    assert "jobs/schemas/raw/exam_scores.json" in names
    assert "jobs/schemas/tables/exams.scores.json" in names
    assert "jobs/schemas/expectations/exams.scores.json" in names
    assert "lakejobs/log4j2.properties" in names
    assert "lakejobs/entry.py" in names


def test_an_installed_wheel_generates_a_lake_and_spark_submits_an_ingest_job(
    installed: Installed, tmp_path: Path
):
    env = outside_env(installed)
    python = str(installed.bin / "python")
    where = _run(
        [python, "-c", "import jobs, lakejobs; print(jobs.__file__); print(lakejobs.__file__)"],
        cwd=tmp_path,
        env=env,
        timeout=120,
    ).stdout.split()
    jobs_dir, lakejobs_file = Path(where[0]).parent, Path(where[1])
    assert installed.venv in jobs_dir.parents and installed.venv in lakejobs_file.parents
    lake = tmp_path / "lake"
    _run(
        [
            str(installed.bin / "lakejobs"),
            *("generate", "exams", "--lake", "lake", "--date", RUN_DATE, "--rows", str(ROWS)),
        ],
        cwd=tmp_path,
        env=env,
        timeout=RUN_TIMEOUT_S,
    )
    jars = ",".join(str(j) for j in sorted((REPO / ".jars").glob("*.jar")))
    submitted = _run(
        [
            str(installed.bin / "spark-submit"),
            *("--master", "local[2]", "--jars", jars),
            *("--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.ui.enabled=false"),
            str(jobs_dir / "exams" / "ingest_scores.py"),
            *("--date", RUN_DATE, "--lake", str(lake)),
        ],
        cwd=tmp_path,
        env=env,
        timeout=RUN_TIMEOUT_S,
    )
    assert "✔ exams.ingest_scores" in submitted.stdout + submitted.stderr
    scores = DeltaTable(str(lake / "curated" / "exams" / "scores")).to_pyarrow_table()
    quarantine = DeltaTable(str(lake / "curated" / "exams" / "scores_quarantine"))
    assert scores.num_rows > 0
    assert quarantine.to_pyarrow_table().num_rows > 0
    assert not (tmp_path / "lakejobs.toml").exists()  # nothing but the wheel configured the run


def test_the_installed_submit_command_ships_the_installed_packages(
    installed: Installed, tmp_path: Path
):
    """`python -m lakejobs.submit` (what spark-submit.sh runs in a checkout) works from a wheel:
    jars from LAKEJOBS_JARS, the code zip built from site-packages into ./.build/."""
    (tmp_path / "job.py").touch()
    command = _run(
        [
            str(installed.bin / "python"),
            *("-m", "lakejobs.submit", "--dry-run", "--lake", "lake", "job.py", "--date", RUN_DATE),
        ],
        cwd=tmp_path,
        env=outside_env(installed),
        timeout=120,
    ).stdout
    jars = (REPO / ".jars").resolve()
    assert f"--jars {jars}/" in command and f"{jars}/delta-spark_" in command
    assert "--py-files " + str(tmp_path / ".build" / "lakejobs.zip") in command
