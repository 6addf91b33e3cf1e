"""`lakejobs serve` end to end: the Spark Thrift Server over a generated lake, queried the way
Superset does (SQLAlchemy + PyHive, `hive://user:password@127.0.0.1:<port>/default?auth=CUSTOM`),
answers checked against Spark reading the same Delta tables; stopping it leaves no process
behind (the last test of the BI package: it stops the shared server)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lakejobs.cli import main
from lakejobs.config import Settings
from lakejobs.errors import UsageError
from lakejobs.lake import LakeLayout
from lakejobs.serve import (
    PASSWORD_ENV,
    USER_ENV,
    ServeOptions,
    check_credentials,
    server_settings,
)
from tests.bi.conftest import ServerProcess, group_alive

pytestmark = pytest.mark.bi


@pytest.fixture(scope="module")
def engine(server: ServerProcess) -> Iterator[sa.Engine]:
    user, password = server.credentials.user, server.credentials.password
    url = sa.URL.create(
        "hive",
        username=user,
        password=password,
        host="127.0.0.1",
        port=server.port,
        database="default",
        query={"auth": "CUSTOM"},
    )
    engine = sa.create_engine(url)
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
    assert chosen.spark_conf["spark.hadoop.hive.server2.authentication"] == "CUSTOM"
    assert chosen.spark_conf["spark.sql.runSQLOnFiles"] == "false"
    assert chosen.spark_conf["spark.sql.extensions"].endswith(",lakejobs.ReadOnlyExtension")
    shared = server_settings(
        Settings(profile="shared", lake="/tmp/lake", master="local", metastore="hive"),
        ServeOptions(),
    )
    assert shared.metastore == "hive"


def test_a_profile_cannot_turn_authentication_or_read_only_off():
    profile = Settings(
        profile="lax",
        lake="/tmp/lake",
        master="local[2]",
        metastore="derby",
        spark_conf={
            "spark.hadoop.hive.server2.authentication": "NONE",
            "spark.sql.runSQLOnFiles": "true",
            "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
            "spark.sql.hive.thriftServer.singleSession": "true",
        },
    )
    conf = server_settings(profile, ServeOptions()).spark_conf
    assert conf["spark.hadoop.hive.server2.authentication"] == "CUSTOM"
    assert conf["spark.sql.runSQLOnFiles"] == "false"
    assert conf["spark.sql.hive.thriftServer.singleSession"] == "false"
    assert conf["spark.sql.extensions"] == (
        "io.delta.sql.DeltaSparkSessionExtension,lakejobs.ReadOnlyExtension"
    )


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({}, f"{USER_ENV} and {PASSWORD_ENV}"),
        ({USER_ENV: "bi", PASSWORD_ENV: "  "}, PASSWORD_ENV),
        ({PASSWORD_ENV: "pw"}, USER_ENV),
    ],
)
def test_an_authenticated_server_needs_both_credentials(environ, missing):
    with pytest.raises(UsageError) as raised:
        check_credentials(ServeOptions(), environ)
    assert str(raised.value).startswith(f"{missing} not set: export the user name and password")
    assert "--insecure-no-auth" in str(raised.value)
    check_credentials(ServeOptions(authenticate=False), environ)  # the loud opt-out


def test_serve_without_credentials_refuses_to_start(curated_lake, capsys, monkeypatch):
    monkeypatch.delenv(USER_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    code = main(["serve", "--lake", str(curated_lake), "--port", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lakejobs: error: {USER_ENV} and {PASSWORD_ENV} not set: ")
    assert len(err.strip().splitlines()) == 1


def test_a_taken_port_is_a_one_line_error_before_spark_starts(curated_lake, capsys, monkeypatch):
    monkeypatch.setenv(USER_ENV, "bi")
    monkeypatch.setenv(PASSWORD_ENV, "not-used-no-server-starts")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--lake", str(curated_lake), "--port", str(port)])
    assert code == 2
    assert capsys.readouterr().err.startswith(
        f"lakejobs: error: cannot listen on 127.0.0.1:{port} (Address already in use); "
    )


def test_ready_line_names_the_urls_and_every_curated_table(running: ServerProcess):
    line = running.wait_ready()
    assert f"jdbc:hive2://127.0.0.1:{running.port}/default" in line
    assert f"hive://<user>:<password>@127.0.0.1:{running.port}/default?auth=CUSTOM" in line
    assert "read-only, user and password from $LAKEJOBS_BI_USER/$LAKEJOBS_BI_PASSWORD" in line
    assert running.credentials.password not in running.text()
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


def test_sigterm_stops_the_server_and_its_jvm(running: ServerProcess):
    code = running.stop()
    assert code == 0, running.tail()
    assert not group_alive(running.proc.pid)
    assert "stopping the Thrift Server" in running.text()
