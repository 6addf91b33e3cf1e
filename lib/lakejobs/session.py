"""The one place that builds a SparkSession: Delta, the catalog, the lake, logs, small-machine defaults.

`spark_conf(settings)` is a pure function so that tests (pytest-spark) and `spark-submit.sh` use the
very same configuration as `build_session`.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pyspark.sql import SparkSession

from lakejobs.config import Settings
from lakejobs.errors import UsageError

# lakejobs' log4j configuration, shipped as package data of lakejobs.
LOG4J_CONF = Path(str(files("lakejobs") / "log4j2.properties"))
# lakejobs' own JVM classes (jvm/lakejobs-ext, built by `make bootstrap` into .build/jars/ of a
# checkout): the pseudonym HMAC, the BI server's authentication and read-only SQL. An installed
# wheel finds it among the jars of `Settings.jars_dir` when it is copied there.
EXT_JAR_NAME = "lakejobs-ext.jar"

# Settings every lakejobs session gets; profiles may override any of them.
BASE_CONF: Mapping[str, str] = MappingProxyType(
    {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.parquet.compression.codec": "zstd",
        # Standard UTC-adjusted INT64 timestamps instead of Spark's legacy INT96, so DuckDB, pandas
        # and BI tools that read the Parquet files see the same instant whatever their time zone.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # Partitioned writes keep up to this many files open per task instead of sorting every row
        # by the partition columns first (bench/README.md: -24 % for the exams.grades write, -16 % for
        # exams.grade end to end at 1e8 rows, where the sort spilled 3 GB).
        "spark.sql.maxConcurrentOutputFileWriters": "8",
        # A CRC32 per Parquet page costs ~5 % of the write; HDFS and S3 checksum the files anyway.
        "spark.hadoop.parquet.page.write-checksum.enabled": "false",
        "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
        # Schema changes must be asked for by a table contract, never picked up silently.
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.databricks.delta.retentionDurationCheck.enabled": "true",
        # Delta rebuilds table state with this many tasks; the default 50 dominates small tables.
        "spark.databricks.delta.snapshotPartitions": "4",
        # s3a:// (hadoop-aws 3.5): the classic input stream, which S3-compatible servers (and the
        # backend tests) support, rather than the newer analytics-accelerator stream.
        "spark.hadoop.fs.s3a.input.stream.type": "classic",
    }
)


def driver_jvm(spark: SparkSession) -> Any:
    """The driver JVM through py4j (`sc._jvm`). pyspark types it as optional because it is None
    on executors; a session built on the driver always has one. py4j is untyped, hence `Any`."""
    view = spark.sparkContext._jvm
    if view is None:
        raise RuntimeError("no py4j gateway: SparkContext._jvm is only set on the driver")
    return view


def metastore_dir(settings: Settings) -> Path:
    """Where the embedded Derby metastore lives: inside a local lake, else beside the cwd."""
    if settings.lake_is_local:
        return settings.local_lake_path / "_metastore"
    return Path.cwd() / ".lakejobs-metastore"


def local_jars(settings: Settings) -> list[Path]:
    """The bootstrapped JVM jars (Delta, ..., lakejobs' own) that Spark gets as local files:
    those of `settings.jars_dir`, and lakejobs-ext.jar from `.build/jars/` beside it."""
    if not settings.jars_dir.is_dir():
        return []
    ext_jar = settings.jars_dir.parent / ".build" / "jars" / EXT_JAR_NAME
    return sorted(settings.jars_dir.glob("*.jar")) + ([ext_jar] if ext_jar.is_file() else [])


def _metastore_conf(settings: Settings) -> dict[str, str]:
    if settings.metastore == "in-memory":
        # No metastore process or files: jobs use tables by path, so runs never lock each other.
        return {"spark.sql.catalogImplementation": "in-memory"}
    if settings.metastore == "derby-memory":
        return {
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.javax.jdo.option.ConnectionURL": "jdbc:derby:memory:lakejobs;create=true",
        }
    if settings.metastore == "derby":
        # Relative to -Dderby.system.home, so no lake path (`;` splits a Derby URL) is in the URL.
        url = "jdbc:derby:metastore_db;create=true"
        return {
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.javax.jdo.option.ConnectionURL": url,
        }
    if settings.metastore == "glue":
        return {
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.hive.metastore.client.factory.class": (
                "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
            ),
        }
    return {"spark.sql.catalogImplementation": "hive"}  # "hive": hive-site.xml on the classpath


def java_option(name: str, value: str | Path) -> str:
    """`-Dname=value` quoted for Spark's launcher, which splits extraJavaOptions like a POSIX
    shell (whitespace separates, '…' and "…" quote, \\ escapes): any path survives whole."""
    return shlex.quote(f"-D{name}={value}")


def new_log_file(settings: Settings) -> Path:
    """A fresh Spark/JVM log file name for this process (one file per CLI run)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings.log_dir / f"spark-{stamp}-{os.getpid()}.log"


def _driver_java_options(settings: Settings, log_file: Path | None, debug: bool) -> str:
    options = [java_option("log4j2.configurationFile", LOG4J_CONF)]
    if log_file is not None:
        # conf/log4j2.properties: everything to this file; the console only with --debug.
        options += [
            java_option("lakejobs.log.file", log_file),
            java_option("lakejobs.console.level", "all" if debug else "off"),
        ]
    if settings.metastore == "derby":
        home = metastore_dir(settings)
        options += [
            java_option("derby.system.home", home),
            java_option("derby.stream.error.file", home / "derby.log"),
        ]
    else:
        options.append("-Dderby.stream.error.field=java.lang.System.err")
    return " ".join(options)


def spark_conf(
    settings: Settings,
    *,
    with_jars: bool = True,
    log_file: Path | None = None,
    debug: bool = False,
) -> dict[str, str]:
    """The complete Spark configuration for a profile (pure: no session is created).

    With `log_file`, the driver JVM logs there instead of to the console (unless `debug`).
    """
    conf = dict(BASE_CONF)
    conf["spark.sql.warehouse.dir"] = f"{settings.lake}/curated"
    conf.update(_metastore_conf(settings))
    conf["spark.driver.extraJavaOptions"] = _driver_java_options(settings, log_file, debug)
    jars = local_jars(settings)
    if with_jars and jars:
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    conf.update(settings.spark_conf)
    return conf


def launched_by_spark_submit() -> bool:
    """True inside a driver started by `spark-submit`, whose JVM already holds master and jars."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def log_exception(exc: BaseException, log_file: Path | None) -> Path | None:
    """Append `exc` with its Python and Java stack traces to the session's `log_file` (a Py4J
    error raised on the driver carries the Java trace, which log4j never saw); return the file."""
    if log_file is None:
        return None
    import traceback

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"{stamp} ERROR [lakejobs] {type(exc).__name__}\n")
        out.write("".join(traceback.format_exception(exc)))
    return log_file


def build_session(
    settings: Settings,
    app_name: str = "lakejobs",
    *,
    log_file: Path | None = None,
    debug: bool = False,
) -> SparkSession:
    """Create (or return the running) SparkSession for `settings`.

    The JVM's own log (Spark, Delta, Hadoop: warnings and stack traces) goes to `log_file`
    (default: a new `new_log_file(settings)`), so the console keeps lakejobs' own lines; `debug`
    shows it there too. Under spark-submit the JVM's logging is already set and no file is made.
    """
    submitted = launched_by_spark_submit()
    if not submitted and not local_jars(settings):
        raise UsageError(
            f"no Delta jars in {settings.jars_dir}: run `make bootstrap` first, or name a folder "
            "of jars with LAKEJOBS_JARS (or set spark.jars.packages in your profile)"
        )
    builder = SparkSession.builder
    if settings.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if not submitted:
        # Under spark-submit the JVM already has master and name (`--name lakejobs:<job>`, what
        # YARN and the standalone master show); overriding them here would hide the job's name.
        builder = builder.appName(app_name).master(settings.master)
    # Spark's progress bars help at a terminal and garble logs of scheduled runs.
    builder = builder.config("spark.ui.showConsoleProgress", str(sys.stderr.isatty()).lower())
    if submitted:
        log_file = None
    else:
        log_file = log_file or new_log_file(settings)
        log_file.parent.mkdir(parents=True, exist_ok=True)
    conf = spark_conf(settings, with_jars=not submitted, log_file=log_file, debug=debug)
    for key, value in conf.items():
        builder = builder.config(key, value)
    if settings.metastore == "derby":
        metastore_dir(settings).mkdir(parents=True, exist_ok=True)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if not debug:
        # pyspark logs every failed query's Java stack trace on the console (as JSON) before
        # raising it; the CLI reports the error in one line and the trace is in the log file.
        from pyspark.logger import PySparkLogger

        PySparkLogger.getLogger("SQLQueryContextLogger").disabled = True
    return spark
