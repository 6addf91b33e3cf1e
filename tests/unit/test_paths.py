"""Any legal lake path: JVM options, the Derby URL, SQL literals and empty paths.

Spark's launcher splits `spark.driver.extraJavaOptions` like a POSIX shell, so every option must
come back whole from `shlex.split`; a real run on such a path is in
tests/integration/test_concurrent_runs.py.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from lakejobs.catalog import Catalog
from lakejobs.cli import main
from lakejobs.config import Settings, load_settings
from lakejobs.contracts import table_contract
from lakejobs.errors import UsageError
from lakejobs.lake import LakeLayout
from lakejobs.session import java_option, metastore_dir, spark_conf

ODD_NAMES = ["my lake", "my lake's", 'say "cheese"', "a;b", "back\\slash", "$HOME `x`", "레이크 ü"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_java_options_survive_the_launchers_splitting(tmp_path: Path, name: str):
    settings = Settings(
        profile="t", lake=str(tmp_path / name), master="local[1]", metastore="derby"
    )
    log_file = settings.log_dir / "spark.log"
    conf = spark_conf(settings, log_file=log_file)
    options = shlex.split(conf["spark.driver.extraJavaOptions"])
    home = metastore_dir(settings)
    assert f"-Dderby.system.home={home}" in options
    assert f"-Dderby.stream.error.file={home / 'derby.log'}" in options
    assert f"-Dlakejobs.log.file={log_file}" in options
    assert "-Dlakejobs.console.level=off" in options
    # The Derby URL is relative to derby.system.home: no path, so no `;` can split it.
    assert (
        conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == "jdbc:derby:metastore_db;create=true"
    )


def test_java_option_quotes_only_as_much_as_needed():
    assert java_option("a.b", "/plain/path") == "-Da.b=/plain/path"
    assert shlex.split(java_option("a.b", "/it's here")) == ["-Da.b=/it's here"]


def test_debug_sends_the_jvm_log_to_the_console_too(tmp_path: Path):
    settings = Settings(profile="t", lake=str(tmp_path), master="local[1]")
    options = shlex.split(
        spark_conf(settings, log_file=tmp_path / "x.log", debug=True)[
            "spark.driver.extraJavaOptions"
        ]
    )
    assert "-Dlakejobs.console.level=all" in options


def test_log_dir_is_inside_a_local_lake_and_local_for_a_remote_one(tmp_path: Path, monkeypatch):
    local = Settings(profile="t", lake=str(tmp_path / "my lake"), master="local[1]")
    assert local.log_dir == tmp_path / "my lake" / "_logs"
    monkeypatch.chdir(tmp_path)
    remote = Settings(profile="t", lake="s3a://bucket/lake", master="local[1]")
    assert remote.log_dir == tmp_path / ".lakejobs" / "logs"


def test_an_empty_lake_is_an_error_not_the_default(monkeypatch):
    with pytest.raises(UsageError, match="--lake is empty"):
        load_settings(lake="")
    with pytest.raises(UsageError, match="--lake is empty"):
        load_settings(lake="   ")
    monkeypatch.setenv("LAKEJOBS_LAKE", "")
    with pytest.raises(UsageError, match="LAKEJOBS_LAKE is set but empty"):
        load_settings()


def test_cli_rejects_an_empty_lake_with_one_line(capsys):
    assert main(["run", "exams", "--date", "2026-11-20", "--lake", ""]) == 2
    err = capsys.readouterr().err
    assert err == "lakejobs: error: --lake is empty: give a lake path, or leave the option out\n"


def test_registering_a_table_at_a_path_with_quotes_and_semicolons(spark, tmp_path: Path):
    """The test session has a (Hive) metastore, so `ensure` also registers by name: the SQL
    holding the location must take the quote and the `;` literally."""
    lake = tmp_path / "it's; a lake"
    tables = Catalog(spark, LakeLayout(str(lake)))
    contract = table_contract("lakejobs.job_runs")
    tables.ensure(contract)
    registered = spark.sql(f"DESCRIBE DETAIL {contract.name}").first()["location"]
    assert registered.endswith("/it's; a lake/curated/lakejobs/job_runs")
    assert spark.table(contract.name).count() == 0
    assert (lake / "curated" / "lakejobs" / "job_runs" / "_delta_log").is_dir()
