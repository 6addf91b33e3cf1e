"""What the backend tests share: the exams data, copying a raw lake, comparing curated tables,
submitting job files, and un-registering a remote lake's tables from the shared session."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from chispa import assert_approx_df_equality
from pyspark.sql import DataFrame, SparkSession

from lakejobs.pipeline import PipelineResult, run_jobs, select_jobs
from tests.backends.clusters import PYSPARK_JARS, REPO_ROOT
from tests.conftest import TEST_SETTINGS

RUN_DATE = date(2026, 11, 20)
ROWS = 3_000
INGEST_OUTPUTS = ("exams.scores", "exams.scores_quarantine")
OUTPUTS = (*INGEST_OUTPUTS, "exams.grades", "exams.grade_cutoffs", "exams.school_report")
# Columns that legitimately differ between two runs on two lakes: which run wrote a row, and the
# raw file's absolute URI (hdfs://…, s3a://… or file:…).
VARYING = ("run_id", "source_file")
S3_BUCKET = "lakejobs-test"
DOUBLE_TOLERANCE = 1e-9
SUBMIT_TIMEOUT_S = 600  # a guard against hanging, not a performance check


def settings_for(lake: str):
    """The shared test settings with another lake root (any Hadoop URI)."""
    return dataclasses.replace(TEST_SETTINGS, lake=lake)


def run_exams(spark: SparkSession, lake: str) -> PipelineResult:
    """ingest_scores + grade on `lake` in the shared session, as `lakejobs run exams` does."""
    return run_jobs(
        spark, settings_for(lake), select_jobs("exams"), RUN_DATE, echo=lambda line: None
    )


def upload_raw(spark: SparkSession, local_lake: Path, lake: str) -> None:
    """Copy a generated local lake's raw/ to `lake`/raw through Hadoop (as distcp would)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    target = jvm.org.apache.hadoop.fs.Path(f"{lake}/raw")
    source = jvm.org.apache.hadoop.fs.Path(f"file:{local_lake / 'raw'}")
    target.getFileSystem(conf).copyFromLocalFile(False, True, source, target)


def curated(spark: SparkSession, lake: str, table: str) -> DataFrame:
    """A curated table of `lake` read by path, without the columns that vary between lakes."""
    database, name = table.split(".")
    df = spark.read.format("delta").load(f"{settings_for(lake).lake}/curated/{database}/{name}")
    return df.drop(*[c for c in VARYING if c in df.columns])


def assert_same_tables(
    spark: SparkSession, expected_lake: str, actual_lake: str, tables: Sequence[str] = OUTPUTS
) -> None:
    """Every table holds the same rows (with multiplicity) in both lakes.

    Doubles (means, standard deviations) are compared to 1e-9: a cluster sums them over other
    partitions, in another order, than the local run, which moves the last bits.
    """
    for table in tables:
        expected, actual = curated(spark, expected_lake, table), curated(spark, actual_lake, table)
        assert expected.count() > 0, f"{table}: the reference run wrote no rows"
        assert actual.count() == expected.count(), f"{table}: row counts differ"
        assert_approx_df_equality(
            expected, actual, DOUBLE_TOLERANCE, ignore_row_order=True, allow_nan_equality=True
        )


def forget_lake(spark: SparkSession, lake: str) -> None:
    """Drop the shared metastore's entries for `lake` so other tests re-register their own.

    Tables are external, so dropping entries never touches data. (Which tables a run ensured is
    remembered by that run's `Catalog`, so nothing else needs forgetting.)
    """
    for database in spark.catalog.listDatabases():
        if database.locationUri and database.locationUri.startswith(lake):
            spark.sql(f"DROP DATABASE IF EXISTS {database.name} CASCADE")


def assert_exams_pipeline_matches_local(
    spark: SparkSession, local_raw: Path, lake: str, reference: str
) -> None:
    """Upload the raw delivery to `lake`, run the exams pipeline there in the shared session and
    compare every table with the local reference run; the lake is forgotten afterwards."""
    upload_raw(spark, local_raw, lake)
    try:
        result = run_exams(spark, lake)
        assert result.failed == () and result.skipped == (), result
        assert_same_tables(spark, reference, lake)
    finally:
        forget_lake(spark, lake)


def spark_submit(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ./spark-submit.sh with `args` from `cwd` (the Derby metastore of a non-local lake
    lives beside the cwd), the library shipped with --py-files as users do."""
    command = [str(REPO_ROOT / "spark-submit.sh"), *args]
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=SUBMIT_TIMEOUT_S,
    )


def job_file(name: str) -> str:
    """A job file's absolute path: spark-submit runs from a temp cwd, not the repository."""
    return str(REPO_ROOT / "jobs" / name)


def python_conf() -> list[str]:
    """Executors on this machine run the same interpreter as the driver (the venv's)."""
    return ["--conf", f"spark.pyspark.python={sys.executable}"]


def yarn_conf() -> list[str]:
    """YARN on this machine: pyspark's jars used in place (no 450 MB upload); one small executor
    (an ApplicationMaster and an executor container: the 2 cores have little room for more)."""
    conf = {
        "spark.yarn.jars": f"local:{PYSPARK_JARS}/*",
        "spark.executor.instances": "1",
        "spark.executor.cores": "1",
        "spark.executor.memory": "768m",
        "spark.yarn.am.memory": "512m",
        "spark.driver.memory": "1g",
    }
    return [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]


def job_succeeded(result: subprocess.CompletedProcess, job: str) -> bool:
    """spark-submit merges the job's stdout and stderr; the job prints ✔ <name> on success."""
    return result.returncode == 0 and f"✔ {job}" in result.stdout + result.stderr
