"""The Jupyter notebooks run end to end in a kernel of this venv against a generated lake, and
the Zeppelin note's paragraphs run against a Spark session; committed notebooks hold no outputs.

Each kernel starts its own JVM with the default profile, so its metastore is the embedded Derby in
`<lake>/_metastore` (free: the shared test session keeps its metastore in memory). Derby admits one
JVM at a time, so a kernel's JVM must be gone before the next notebook starts.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebooks

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
JUPYTER = ("exams", "ads", "events")
PLOTS = {"exams": 2, "ads": 2, "events": 2}  # cells that must draw a picture
CELL_TIMEOUT_SECONDS = 300  # hang guard for one cell (the first one starts a JVM)
JVM_EXIT_DEADLINE_SECONDS = 60


def jvms_using(metastore: Path) -> list[psutil.Process]:
    """JVMs whose command line names this lake's Derby home (started by a notebook kernel)."""
    marker = f"-Dderby.system.home={metastore}"
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if "java" in (proc.info["name"] or "") and marker in (proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_for_kernel_jvms_to_exit(metastore: Path) -> None:
    deadline = time.monotonic() + JVM_EXIT_DEADLINE_SECONDS
    while jvms_using(metastore) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = jvms_using(metastore)
    for proc in left:
        proc.kill()
    if left:
        pytest.fail(f"a notebook kernel left its JVM running: {[p.pid for p in left]}")


@pytest.mark.parametrize("name", JUPYTER)
def test_committed_notebook_holds_no_outputs(name: str):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, name
    assert all(c.outputs == [] and c.execution_count is None for c in code), (
        f"{name}.ipynb has outputs: clear them before committing (see docs/notebooks.md)"
    )


@pytest.mark.parametrize("name", JUPYTER)
def test_every_plot_has_a_markdown_cell_explaining_it(name: str):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        draws = ".plot" in cell.source or "plt.subplots" in cell.source
        if cell.cell_type == "code" and draws:
            assert before.cell_type == "markdown" and before.source.startswith("## ")


@pytest.mark.parametrize("name", JUPYTER)
def test_notebook_runs_end_to_end_against_a_generated_lake(
    name: str, curated_lake: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LAKEJOBS_LAKE", str(curated_lake))
    for var in ("PYSPARK_GATEWAY_PORT", "LAKEJOBS_PROFILE", "LAKEJOBS_MASTER"):
        monkeypatch.delenv(var, raising=False)
    metastore = curated_lake / "_metastore"
    wait_for_kernel_jvms_to_exit(metastore)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()  # raises CellExecutionError with the cell and traceback on failure
    finally:
        wait_for_kernel_jvms_to_exit(metastore)
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(images) >= PLOTS[name]
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]


def zeppelin_paragraphs() -> list[tuple[str, str, str]]:
    """(title, interpreter, body) of each paragraph of notebooks/lakejobs.zpln."""
    note = json.loads((NOTEBOOKS / "lakejobs.zpln").read_text(encoding="utf-8"))
    paragraphs = []
    for p in note["paragraphs"]:
        first, _, body = p["text"].partition("\n")
        paragraphs.append((p["title"], first.strip().removeprefix("%"), body))
    return paragraphs


def test_zeppelin_note_is_a_note_with_pyspark_and_sql_paragraphs():
    kinds = [kind for _, kind, _ in zeppelin_paragraphs()]
    assert set(kinds) <= {"md", "pyspark", "sql"}
    assert kinds.count("pyspark") >= 2 and kinds.count("sql") >= 6


def test_zeppelin_paragraphs_run_against_spark_and_return_rows(
    spark, curated_lake: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.setenv("LAKEJOBS_LAKE", str(curated_lake))
    monkeypatch.delenv("LAKEJOBS_PROFILE", raising=False)
    for title, kind, body in zeppelin_paragraphs():
        if kind == "pyspark":
            exec(compile(body, title, "exec"), {"spark": spark})  # what Zeppelin binds
            assert capsys.readouterr().out.strip(), f"{title}: printed nothing"
        elif kind == "sql":
            assert spark.sql(body).collect(), f"{title}: no rows"
    assert os.environ["LAKEJOBS_LAKE"] == str(curated_lake)
