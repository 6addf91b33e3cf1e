"""`lakejobs serve` end to end: the Spark Thrift Server over a generated lake, queried the way
Superset does (SQLAlchemy + PyHive, `hive://127.0.0.1:<port>/default`), answers checked against
Spark reading the same Delta tables; stopping it leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lakejobs.cli import main
from lakejobs.config import Settings
from lakejobs.lake import LakeLayout
from lakejobs.serve import ServeOptions, server_settings

pytestmark = pytest.mark.bi

START_DEADLINE_SECONDS = 240  # a hang guard: JVM start + table registration on a busy machine
STOP_DEADLINE_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class ServerProcess:
    """`lakejobs serve` in its own process group, so that stopping it reaches its JVM too."""

    def __init__(self, lake: Path, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        env = {k: v for k, v in os.environ.items() if k != "PYSPARK_GATEWAY_PORT"}
        env.pop("LAKEJOBS_PROFILE", None)
        command = [sys.executable, "-m", "lakejobs.cli", "serve", "--lake", str(lake)]
        command += ["--port", str(port)]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def wait_ready(self) -> str:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if "Thrift Server ready" in line:
                    return line
            if self.proc.poll() is not None:
                pytest.fail(f"lakejobs serve exited with {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.5)
        pytest.fail(f"lakejobs serve not ready after {START_DEADLINE_SECONDS} s:\n{self.tail()}")

    def stop(self) -> int | None:
        """SIGTERM, then wait for the whole group (Python and its JVM); SIGKILL as a last resort."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        deadline = time.monotonic() + STOP_DEADLINE_SECONDS
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if group_alive(self.proc.pid):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode


@pytest.fixture(scope="module")
def server(curated_lake: Path, tmp_path_factory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        curated_lake, free_port(), tmp_path_factory.mktemp("serve") / "serve.log"
    )
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def engine(server: ServerProcess) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"hive://127.0.0.1:{server.port}/default")
    yield engine
    engine.dispose()


def delta(spark, lake: Path, database: str, table: str):
    layout = LakeLayout(str(lake) if str(lake).startswith("file:") else f"file:{lake}")
    return spark.read.format("delta").load(layout.curated_dir(database, table))


def test_server_settings_swap_the_lake_derby_for_a_private_metastore_and_bind_loopback():
    local = Settings(profile="local", lake="/tmp/lake", master="local[2]", metastore="derby")
    chosen = server_settings(local, ServeOptions(port=10123))
    assert chosen.metastore == "derby-memory"
    assert chosen.spark_conf["spark.hadoop.hive.server2.thrift.bind.host"] == "127.0.0.1"
    assert chosen.spark_conf["spark.hadoop.hive.server2.thrift.port"] == "10123"
    shared = server_settings(
        Settings(profile="shared", lake="/tmp/lake", master="local", metastore="hive"),
        ServeOptions(),
    )
    assert shared.metastore == "hive"


def test_a_taken_port_is_a_one_line_error_before_spark_starts(curated_lake, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--lake", str(curated_lake), "--port", str(port)])
    assert code == 2
    assert capsys.readouterr().err.startswith(
        f"lakejobs: error: cannot listen on 127.0.0.1:{port} (Address already in use); "
    )


def test_ready_line_names_the_urls_and_every_curated_table(server: ServerProcess):
    line = server.wait_ready()
    assert f"jdbc:hive2://127.0.0.1:{server.port}/default" in line
    assert f"hive://127.0.0.1:{server.port}/default" in line
    for name in ("exams.grades", "ads.campaign_roas_daily", "events.retention"):
        assert name in line


def test_superset_style_inspection_lists_databases_tables_and_columns(engine):
    inspector = sa.inspect(engine)
    assert {"exams", "ads", "events", "lakejobs"} <= set(inspector.get_schema_names())
    # PyHive's get_table_names reads column 0 of SHOW TABLES, which Spark fills with the
    # database (PyHive issue #150, see docs/bi.md); the table names are in `tableName`.
    with engine.connect() as conn:
        tables = {row.tableName for row in conn.execute(sa.text("SHOW TABLES IN exams"))}
    assert {"grades", "grade_cutoffs", "school_report", "scores"} <= tables
    columns = [c["name"] for c in inspector.get_columns("grade_cutoffs", schema="exams")]
    assert columns == ["exam_id", "subject", "scheme", "grade", "min_score", "count", "share"]


def test_a_group_by_over_jdbc_matches_spark_on_the_same_delta_table(spark, engine, curated_lake):
    query = sa.text(
        "SELECT subject, grade, count(*) AS students, round(avg(score), 3) AS mean_score "
        "FROM exams.grades GROUP BY subject, grade"
    )
    with engine.connect() as conn:
        got = {(s, g): (n, m) for s, g, n, m in conn.execute(query).fetchall()}
    grades = delta(spark, curated_lake, "exams", "grades")
    want = {
        (r["subject"], r["grade"]): (r["students"], r["mean_score"])
        for r in grades.groupBy("subject", "grade")
        .agg({"*": "count", "score": "avg"})
        .withColumnsRenamed({"count(1)": "students", "avg(score)": "mean_score"})
        .selectExpr("subject", "grade", "students", "round(mean_score, 3) AS mean_score")
        .collect()
    }
    assert got == want
    assert sum(n for n, _ in got.values()) == grades.count()


def test_other_domains_are_queryable_by_name(spark, engine, curated_lake):
    with engine.connect() as conn:
        dau_rows = conn.execute(sa.text("SELECT event_date, dau FROM events.daily_active_users"))
        dau = {event_date: users for event_date, users in dau_rows.fetchall()}
        roas_rows = conn.execute(sa.text("SELECT count(*) FROM ads.campaign_roas_daily")).scalar()
    want = delta(spark, curated_lake, "events", "daily_active_users")
    assert {str(k): v for k, v in dau.items()} == {
        str(r["event_date"]): r["dau"] for r in want.collect()
    }
    assert roas_rows == delta(spark, curated_lake, "ads", "campaign_roas_daily").count()


def test_sigterm_stops_the_server_and_its_jvm(server: ServerProcess):
    code = server.stop()
    assert code == 0, server.tail()
    assert not group_alive(server.proc.pid)
    assert "stopping the Thrift Server" in server.log.read_text(errors="replace")
