"""One shared SparkSession for the whole run (pytest-spark), configured by lakejobs.session.

pytest-spark builds its session from `SparkConfigBuilder`; we initialise that builder first with the
library's own `spark_conf`, so the tests run on exactly the configuration users get, with an
in-memory Derby metastore and settings sized for small data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from pytest_spark.config import SparkConfigBuilder

from lakejobs.config import Settings
from lakejobs.session import spark_conf

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# S3 tests (tests/backends) use a local S3 server; S3A reads credentials from the environment, which
# the JVM inherits when it starts, so they are set here. Never real ones: no test may reach AWS.
os.environ["AWS_ACCESS_KEY_ID"] = "lakejobs-test"
os.environ["AWS_SECRET_ACCESS_KEY"] = "lakejobs-test-secret"
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

_SCRATCH = Path(tempfile.mkdtemp(prefix="lakejobs-tests-"))
TEST_SETTINGS = Settings(
    profile="test",
    lake=str(_SCRATCH / "lake"),
    master="local[2]",
    metastore="derby-memory",
    spark_conf={
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "2g",
        "spark.sql.warehouse.dir": f"file:{_SCRATCH / 'warehouse'}",
        "spark.databricks.delta.snapshotPartitions": "1",
    },
)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    options = {"spark.master": TEST_SETTINGS.master, **spark_conf(TEST_SETTINGS)}
    SparkConfigBuilder.initialize(options_from_ini=[f"{k}: {v}" for k, v in options.items()])


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SCRATCH, ignore_errors=True)


@pytest.fixture(scope="session")
def spark(spark_session):
    """The shared SparkSession (an alias that reads better in tests)."""
    return spark_session
