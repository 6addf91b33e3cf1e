"""`lakejobs sql` and `lakejobs shell` as an analyst runs them: a fresh process with its own JVM,
the lake's tables by name, the answer on stdout. The lake holds a real Delta table (written with
delta-rs) whose group-by answer is known in advance."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

pytestmark = pytest.mark.integration

GROUP_BY = "SELECT subject, grade, count(*) AS n FROM exams.grades GROUP BY 1, 2 ORDER BY 1, 2"
ROWS = [("math", 1), ("math", 1), ("math", 2), ("math", 2), ("math", 2), ("korean", 1)]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("analyst") / "lake"
    grades = pa.table(
        {
            "exam_id": ["2026-11-CSAT"] * len(ROWS),
            "subject": [s for s, _ in ROWS],
            "student_id": [f"ST{i:07d}" for i in range(len(ROWS))],
            "grade": pa.array([g for _, g in ROWS], pa.int32()),
        }
    )
    write_deltalake(str(root / "curated" / "exams" / "grades"), grades)
    return root


def lakejobs(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakejobs.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=900,
    )


def test_sql_answers_a_group_by_in_each_format(lake: Path):
    csv = lakejobs("sql", GROUP_BY, "--lake", str(lake), "--format", "csv")
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout == "subject,grade,n\nkorean,1,1\nmath,1,2\nmath,2,3\n"

    as_json = lakejobs("sql", GROUP_BY, "--lake", str(lake), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {"subject": "korean", "grade": 1, "n": 1},
        {"subject": "math", "grade": 1, "n": 2},
        {"subject": "math", "grade": 2, "n": 3},
    ]

    table = lakejobs("sql", GROUP_BY, "--lake", str(lake))
    assert table.returncode == 0, table.stderr
    lines = [line.split() for line in table.stdout.splitlines()]
    assert ["subject", "grade", "n"] in lines
    assert ["math", "2", "3"] in lines
    assert table.stdout.rstrip().endswith("(3 rows)")


def test_sql_on_a_missing_table_is_one_line_and_exit_1(lake: Path):
    result = lakejobs("sql", "SELECT * FROM exams.nope", "--lake", str(lake))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("lakejobs: failed: AnalysisException: ")
    assert "nope" in last
    assert "Traceback" not in result.stderr


def test_shell_runs_piped_python_with_spark_and_the_tables(lake: Path):
    result = lakejobs(
        "shell",
        "--lake",
        str(lake),
        stdin='print("count =", spark.table("exams.grades").where("subject = \'math\'").count())\n',
    )
    assert result.returncode == 0, result.stderr
    assert "Tables: exams.grades" in result.stdout
    assert "count = 5" in result.stdout


REPO = Path(__file__).resolve().parents[2]
README_SECTION = "## First ten minutes"


def first_ten_minutes() -> list[str]:
    """The command lines of the README's "First ten minutes" block, as a newcomer copies them."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(README_SECTION + "\n", 1)[1]
    block = section.split("```\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_the_readme_first_ten_minutes_work_as_written(tmp_path: Path):
    """Every line runs as written in a folder like a fresh clone's (the bootstrapped .venv),
    with `make bootstrap` checked for what it leaves behind instead of re-run."""
    import shlex

    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    lines = first_ten_minutes()
    assert lines[0].startswith("make bootstrap")
    assert (REPO / ".venv" / "bin" / "lakejobs").is_file() and list((REPO / ".jars").glob("*.jar"))
    outputs: dict[str, str] = {}
    for line in lines[1:]:
        argv = shlex.split(line, comments=True)
        assert argv[0] == ".venv/bin/lakejobs", line
        stdin = (
            'print("grades:", spark.table("exams.grades").count())\n' if "shell" in argv else None
        )
        done = subprocess.run(
            argv, cwd=tmp_path, capture_output=True, text=True, input=stdin, timeout=1800
        )
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
        outputs[argv[1]] = outputs.get(argv[1], "") + done.stdout
    assert outputs["--version"].startswith("lakejobs ")
    assert "exams.grades" in outputs["tables"] and "lakejobs.job_runs" in outputs["tables"]
    assert outputs["runs"].count("succeeded") == 2
    assert "rows quarantined" in outputs["quarantine"]
    assert "2026-11-CSAT" in outputs["report"]
    assert (tmp_path / "report.html").read_text(encoding="utf-8").count("<table") == 2
    graded = [int(n) for n in re.findall(r"^ \w+\s+\d\s+(\d+)", outputs["sql"], re.MULTILINE)]
    written = int(re.search(r"grades:\s+(\d+)", outputs["shell"])[1])
    assert written == sum(graded) > 0  # the shell and the group-by see the same table
    assert "exam_id,n\n" in outputs["sql"]
