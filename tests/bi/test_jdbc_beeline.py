"""`lakejobs serve` through the Hive JDBC driver, the one DBeaver, Tableau's JDBC route and most
BI tools use: pyspark's own `beeline` (Hive JDBC 2.3) connects with a user and password, lists
tables, answers a group-by, returns the contracts' columns from JDBC metadata (`!columns`, i.e.
`DatabaseMetaData.getColumns`), refuses writes and file reads, and refuses a wrong password."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
from pathlib import Path

import pyspark
import pytest

from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from tests.bi.conftest import ServerProcess

pytestmark = pytest.mark.bi

BEELINE = Path(pyspark.__file__).parent / "bin" / "beeline"
BEELINE_DEADLINE_SECONDS = 240


def beeline(server: ServerProcess, script: str, tmp_path: Path, user: str, password: str):
    """Run `script` with beeline against the server; CSV output, errors do not stop the script."""
    script_file = tmp_path / "script.sql"
    script_file.write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "PYSPARK_GATEWAY_PORT"}
    command = [
        str(BEELINE),
        "-u",
        f"jdbc:hive2://127.0.0.1:{server.port}/default",
        "-n",
        user,
        "-p",
        password,
        "--silent=true",
        "--outputformat=csv2",
        "--force=true",
        "-f",
        str(script_file),
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=BEELINE_DEADLINE_SECONDS,
    )


def sections(stdout: str) -> dict[str, list[dict[str, str]]]:
    """Split CSV output at `SELECT '<name>' AS section` markers into parsed result sets."""
    found: dict[str, list[str]] = {}
    current = None
    # beeline's silent mode writes `\\rnull   \\rnull` in front of some lines, which universal
    # newlines (text=True) turn into extra lines: neither those nor the `null`s are output.
    cleaned = (re.sub(r"^(?:null\s*)+", "", line) for line in stdout.splitlines())
    lines = [line for line in cleaned if line.strip()]
    i = 0
    while i < len(lines):
        if lines[i] == "section" and i + 1 < len(lines):
            current = lines[i + 1]
            found[current] = []
            i += 2
            continue
        if current is not None:
            found[current].append(lines[i])
        i += 1
    return {
        # csv2 quotes a value holding a comma (`DECIMAL(18,6)`) with NUL characters.
        name: list(csv.DictReader(io.StringIO("\n".join(body)), quotechar="\0"))
        for name, body in found.items()
    }


@pytest.fixture(scope="module")
def read_session(server: ServerProcess, tmp_path_factory):
    script = "\n".join(
        [
            "SELECT 'tables' AS section;",
            "SHOW TABLES IN exams;",
            "SELECT 'grades' AS section;",
            "SELECT subject, grade, count(*) AS students FROM exams.grades "
            "GROUP BY subject, grade ORDER BY subject, grade;",
            "SELECT 'columns' AS section;",
            "!columns campaign_roas_daily",
            "",
        ]
    )
    user, password = server.credentials.user, server.credentials.password
    done = beeline(server, script, tmp_path_factory.mktemp("beeline"), user, password)
    assert done.returncode == 0, done.stderr[-3000:]
    return sections(done.stdout)


def test_beeline_connects_and_lists_the_tables(read_session):
    tables = {row["tableName"] for row in read_session["tables"]}
    assert {"scores", "grades", "grade_cutoffs", "school_report"} <= tables


def test_beeline_group_by_matches_spark_on_the_delta_table(spark, curated_lake, read_session):
    got = {(r["subject"], r["grade"]): int(r["students"]) for r in read_session["grades"]}
    path = LakeLayout(f"file:{curated_lake}").curated_dir("exams", "grades")
    want = {
        (r["subject"], str(r["grade"])): r["count"]
        for r in spark.read.format("delta").load(path).groupBy("subject", "grade").count().collect()
    }
    assert got == want
    assert len(got) > 5


def test_jdbc_get_columns_returns_the_contracts_columns_and_comments(read_session):
    contract = table_contract("ads.campaign_roas_daily")
    rows = [r for r in read_session["columns"] if r["TABLE_SCHEM"] == "ads"]
    assert [r["COLUMN_NAME"] for r in rows] == list(contract.columns)
    for row, field in zip(rows, contract.schema.fields, strict=True):
        assert row["TYPE_NAME"].lower().startswith(field.dataType.simpleString().split("(")[0])
    comments = {f.name: f.metadata.get("comment") for f in contract.schema.fields}
    assert any(comments.values()), "the contract documents some columns"
    for row in rows:
        assert (row["REMARKS"] or None) == comments[row["COLUMN_NAME"]], row["COLUMN_NAME"]


def test_beeline_writes_and_file_reads_are_refused(spark, curated_lake, running, tmp_path):
    path = LakeLayout(f"file:{curated_lake}").curated_dir("lakejobs", "job_runs")
    before = spark.read.format("delta").load(path).count()
    statements = [
        "DELETE FROM lakejobs.job_runs;",
        "INSERT INTO lakejobs.job_runs SELECT * FROM lakejobs.job_runs;",
        "CREATE TABLE exams.copy USING DELTA AS SELECT * FROM exams.grades;",
        "DROP TABLE exams.grades;",
        "SELECT value FROM text.`file:///etc/passwd`;",
    ]
    user, password = running.credentials.user, running.credentials.password
    done = beeline(running, "\n".join(statements) + "\n", tmp_path, user, password)
    output = done.stdout + done.stderr
    refused = [
        line
        for line in output.splitlines()
        if line.startswith("Error: ") and "lakejobs serve is read-only: " in line
    ]
    assert len(refused) == len(statements), output[-3000:]
    assert "root:" not in output
    assert spark.read.format("delta").load(path).count() == before


@pytest.mark.parametrize("password", ["wrong-password", ""], ids=["wrong", "none"])
def test_beeline_with_a_wrong_password_is_refused(running, tmp_path, password):
    done = beeline(running, "SHOW TABLES IN exams;\n", tmp_path, running.credentials.user, password)
    output = done.stdout + done.stderr
    assert "grades" not in done.stdout
    assert "Could not open client transport" in output or "Peer indicated failure" in output, (
        output[-2000:]
    )
