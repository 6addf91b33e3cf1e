"""Retention for a lake: compact and vacuum curated tables, trim old quarantine rows.

Why: every MERGE and `replaceWhere` leaves the files it replaced behind for time travel, so
without VACUUM a re-graded table keeps one full copy per run and only grows. `maintain` keeps
exactly the history the profile promises (`retention_days` of time travel) and the quarantine for
`quarantine_days`, and compacts the small files that daily runs and the run log accumulate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakejobs.catalog import Catalog
from lakejobs.commits import described
from lakejobs.config import Settings
from lakejobs.contracts import TableContract, all_table_contracts
from lakejobs.lake import LakeLayout
from lakejobs.session import driver_jvm

QUARANTINE_DATE_COLUMN = "ingest_date"


@dataclass(frozen=True)
class TableMaintenance:
    """What `maintain` did to one table: files before and after, rows trimmed, or the error."""

    table: str
    files_before: int
    files_after: int
    quarantine_rows_deleted: int = 0
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"✘ {self.table}: {self.error}"
        trimmed = (
            f", {self.quarantine_rows_deleted:,} quarantine rows deleted"
            if self.quarantine_rows_deleted
            else ""
        )
        return f"✔ {self.table}: data files {self.files_before:,} -> {self.files_after:,}{trimmed}"


def is_quarantine(contract: TableContract) -> bool:
    """Quarantine tables hold rejected raw records per ingest date (kept `quarantine_days`)."""
    return contract.table.endswith("_quarantine") and QUARANTINE_DATE_COLUMN in contract.columns


def _data_files(spark: SparkSession, location: str) -> int:
    """Parquet files under a table's folder (any version), through Hadoop (file, hdfs, s3a)."""
    jvm = driver_jvm(spark)
    path = jvm.org.apache.hadoop.fs.Path(location)
    files = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).listFiles(path, True)
    count = 0
    while files.hasNext():
        status = files.next()
        if "/_delta_log/" not in str(status.getPath().toString()) and str(
            status.getPath().getName()
        ).endswith(".parquet"):
            count += 1
    return count


def _trim_quarantine(
    spark: SparkSession, location: str, contract: TableContract, oldest_kept: date
) -> int:
    table = DeltaTable.forPath(spark, location)
    condition = F.col(QUARANTINE_DATE_COLUMN) < F.lit(oldest_kept)
    with described(spark, f"trim {contract.name}"):
        expired = table.toDF().where(condition).count()
        if expired:  # no empty commit for nothing to trim
            table.delete(condition)
    return expired


def maintain_table(
    spark: SparkSession, settings: Settings, contract: TableContract, today: date
) -> TableMaintenance:
    """Trim (quarantine only), OPTIMIZE, then VACUUM one existing table."""
    location = Catalog(spark, LakeLayout(settings.lake)).location(contract)
    before = _data_files(spark, location)
    deleted = 0
    if is_quarantine(contract):
        oldest_kept = today - timedelta(days=settings.quarantine_days)
        deleted = _trim_quarantine(spark, location, contract, oldest_kept)
    table = DeltaTable.forPath(spark, location)
    with described(spark, f"optimize {contract.name}"):
        table.optimize().executeCompaction()
    with described(spark, f"vacuum {contract.name}"):
        table.vacuum(float(settings.retention_days * 24))
    return TableMaintenance(contract.name, before, _data_files(spark, location), deleted)


def maintain(
    spark: SparkSession,
    settings: Settings,
    today: date | None = None,
    echo: Callable[[str], None] = lambda line: None,
) -> list[TableMaintenance]:
    """Maintain every curated table present in the lake; a failing table is reported and the
    others still run (a table being written right now may conflict with OPTIMIZE: run it again)."""
    today = today or datetime.now(UTC).date()
    tables = Catalog(spark, LakeLayout(settings.lake))
    results = []
    for contract in all_table_contracts():
        if not tables.exists(contract):
            continue
        try:
            result = maintain_table(spark, settings, contract, today)
        except Exception as exc:  # reported per table; the CLI exits 1
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            result = TableMaintenance(contract.name, 0, 0, error=f"{type(exc).__name__}: {first}")
        echo(result.describe())
        results.append(result)
    return results
