"""The BI endpoint is authenticated and read-only, tried with PyHive the way Superset connects:
no connection without the right user and password; with them, no DML, no DDL, no file reads by
path and no reflection, whatever the client sets in its session; the run log is unchanged (read
from its Delta table afterwards)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyhive import exc as hive_errors
from pyhive import hive
from thrift.transport.TTransport import TTransportException

from lakejobs.lake import LakeLayout
from tests.bi.conftest import ServerProcess

pytestmark = pytest.mark.bi

READ_ONLY = "lakejobs serve is read-only: "
WRITES = {
    "delete": "DELETE FROM lakejobs.job_runs WHERE status = 'succeeded'",
    "insert": "INSERT INTO lakejobs.job_runs SELECT * FROM lakejobs.job_runs",
    "update": "UPDATE lakejobs.job_runs SET status = 'failed'",
    "merge": "MERGE INTO lakejobs.job_runs t USING lakejobs.job_runs s ON t.run_id = s.run_id "
    "WHEN MATCHED THEN DELETE",
    "create": "CREATE TABLE exams.stolen USING DELTA AS SELECT * FROM exams.scores",
    "drop": "DROP TABLE lakejobs.job_runs",
    "truncate": "TRUNCATE TABLE lakejobs.job_runs",
    "alter": "ALTER TABLE lakejobs.job_runs SET TBLPROPERTIES ('x' = 'y')",
    "temp view over a file": "CREATE TEMPORARY VIEW pw USING text OPTIONS (path '/etc/passwd')",
    "vacuum": "VACUUM lakejobs.job_runs RETAIN 0 HOURS",
    "add jar": "ADD JAR /tmp/evil.jar",
}
FILE_READS = {
    "text path": "SELECT value FROM text.`file:///etc/passwd`",
    "csv path": "SELECT * FROM csv.`/etc/passwd`",
    "delta path": "SELECT * FROM delta.`/tmp`",
    "in a subquery": "SELECT (SELECT max(value) FROM text.`/etc/passwd`) AS v",
    "reflection": "SELECT reflect('java.lang.System', 'getenv', 'LAKEJOBS_BI_PASSWORD')",
}


def connect(server: ServerProcess, **kwargs) -> hive.Connection:
    return hive.connect(host="127.0.0.1", port=server.port, **kwargs)


def authenticated(server: ServerProcess, **kwargs) -> hive.Connection:
    user, password = server.credentials.user, server.credentials.password
    return connect(server, username=user, password=password, auth="CUSTOM", **kwargs)


def run_log(spark, lake: Path) -> tuple[int, int]:
    """(Delta version, rows) of lakejobs.job_runs, read from the lake."""
    path = LakeLayout(f"file:{lake}").curated_dir("lakejobs", "job_runs")
    version = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").first()["version"]
    return version, spark.read.format("delta").load(path).count()


@pytest.fixture(scope="module")
def run_log_before(spark, curated_lake, server) -> tuple[int, int]:
    return run_log(spark, curated_lake)


def refusal(server: ServerProcess, statement: str, **kwargs) -> str:
    with authenticated(server, **kwargs) as conn:
        cursor = conn.cursor()
        with pytest.raises(hive_errors.OperationalError) as raised:
            cursor.execute(statement)
            cursor.fetchall()
    return str(raised.value)


@pytest.mark.parametrize(
    "login",
    [
        {},
        {"username": "bi-reader"},
        {"username": "bi-reader", "password": "wrong", "auth": "CUSTOM"},
        {"username": "someone-else", "password": "", "auth": "CUSTOM"},
    ],
    ids=["anonymous", "user name only", "wrong password", "other user, empty password"],
)
def test_no_connection_without_the_right_user_and_password(running, login):
    with pytest.raises(TTransportException) as raised:
        connect(running, **login)
    assert "Error validating the login" in str(raised.value) or "closed" in str(raised.value)


def test_the_right_password_for_another_user_is_refused(running):
    with pytest.raises(TTransportException):
        connect(running, username="admin", password=running.credentials.password, auth="CUSTOM")


@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
def test_writes_are_refused_anonymous_and_authenticated(running, run_log_before, statement):
    with pytest.raises(TTransportException):  # anonymous: not even a session
        connect(running).cursor().execute(statement)
    message = refusal(running, statement)
    assert READ_ONLY in message, message


@pytest.mark.parametrize("statement", FILE_READS.values(), ids=FILE_READS.keys())
def test_files_are_not_readable_by_path_even_when_the_session_asks_for_it(running, statement):
    with pytest.raises(TTransportException):
        connect(running).cursor().execute(statement)
    plain = refusal(running, statement)
    # A JDBC/ODBC client may set session conf on connect (hiveconf): the check does not use it.
    asked = refusal(running, statement, configuration={"spark.sql.runSQLOnFiles": "true"})
    for message in (plain, asked):
        assert READ_ONLY in message, message
        assert "root:" not in message
        assert running.credentials.password not in message


def test_reads_and_metadata_statements_still_work(running):
    with authenticated(running) as conn:
        cursor = conn.cursor()
        cursor.execute("SET spark.sql.runSQLOnFiles=true")
        cursor.fetchall()
        cursor.execute("USE exams")
        cursor.execute("SHOW TABLES")
        assert "grades" in {row[1] for row in cursor.fetchall()}
        cursor.execute("DESCRIBE TABLE grade_cutoffs")
        assert [row[0] for row in cursor.fetchall()][:2] == ["exam_id", "subject"]
        cursor.execute(
            "WITH g AS (SELECT subject, count(*) AS n FROM exams.grades GROUP BY subject) "
            "SELECT count(*) FROM g WHERE n > (SELECT 0)"
        )
        assert cursor.fetchall()[0][0] > 0
        with pytest.raises(hive_errors.OperationalError) as raised:
            cursor.execute("SELECT value FROM text.`/etc/passwd`")
        assert READ_ONLY in str(raised.value)


def test_the_run_log_is_unchanged_after_all_attempts(spark, curated_lake, running, run_log_before):
    assert run_log(spark, curated_lake) == run_log_before
