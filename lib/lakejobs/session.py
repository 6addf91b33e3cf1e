"""The one place that builds a SparkSession: Delta, the metastore, the lake, small-machine defaults.

`spark_conf(settings)` is a pure function so that tests (pytest-spark) and `spark-submit.sh` use the
very same configuration as `build_session`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from lakejobs.config import REPO_ROOT, Settings
from lakejobs.errors import UsageError

LOG4J_CONF = REPO_ROOT / "conf" / "log4j2.properties"
# lakejobs' own JVM classes (jvm/lakejobs-ext, built by `make bootstrap`): the pseudonym HMAC,
# the BI server's authentication and read-only SQL.
EXT_JAR = REPO_ROOT / ".build" / "jars" / "lakejobs-ext.jar"

# Settings every lakejobs session gets; profiles may override any of them.
BASE_CONF: dict[str, str] = {
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


def metastore_dir(settings: Settings) -> Path:
    """Where the embedded Derby metastore lives: inside a local lake, else beside the cwd."""
    if settings.lake_is_local:
        return settings.local_lake_path / "_metastore"
    return Path.cwd() / ".lakejobs-metastore"


def local_jars(settings: Settings) -> list[Path]:
    """The bootstrapped JVM jars (Delta, ..., lakejobs' own) that Spark gets as local files."""
    if not settings.jars_dir.is_dir():
        return []
    return sorted(settings.jars_dir.glob("*.jar")) + ([EXT_JAR] if EXT_JAR.is_file() else [])


def _metastore_conf(settings: Settings) -> dict[str, str]:
    if settings.metastore == "derby-memory":
        return {
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.javax.jdo.option.ConnectionURL": "jdbc:derby:memory:lakejobs;create=true",
        }
    if settings.metastore == "derby":
        home = metastore_dir(settings)
        url = f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true"
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


def _driver_java_options(settings: Settings) -> str:
    options = [f"-Dlog4j2.configurationFile=file:{LOG4J_CONF}"]
    if settings.metastore == "derby":
        home = metastore_dir(settings)
        options += [
            f"-Dderby.system.home={home}",
            f"-Dderby.stream.error.file={home / 'derby.log'}",
        ]
    else:
        options.append("-Dderby.stream.error.field=java.lang.System.err")
    return " ".join(options)


def spark_conf(settings: Settings, *, with_jars: bool = True) -> dict[str, str]:
    """The complete Spark configuration for a profile (pure: no session is created)."""
    conf = dict(BASE_CONF)
    conf["spark.sql.warehouse.dir"] = f"{settings.lake}/curated"
    conf.update(_metastore_conf(settings))
    conf["spark.driver.extraJavaOptions"] = _driver_java_options(settings)
    jars = local_jars(settings)
    if with_jars and jars:
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    conf.update(settings.spark_conf)
    return conf


def launched_by_spark_submit() -> bool:
    """True inside a driver started by `spark-submit`, whose JVM already holds master and jars."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_session(settings: Settings, app_name: str = "lakejobs") -> SparkSession:
    """Create (or return the running) SparkSession for `settings`."""
    submitted = launched_by_spark_submit()
    if not submitted and not local_jars(settings):
        raise UsageError(
            f"no Delta jars in {settings.jars_dir}: run `make bootstrap` first "
            "(or set spark.jars.packages in your profile)"
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
    for key, value in spark_conf(settings, with_jars=not submitted).items():
        builder = builder.config(key, value)
    if settings.metastore == "derby":
        metastore_dir(settings).mkdir(parents=True, exist_ok=True)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
