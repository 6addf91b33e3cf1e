"""Timestamps leave Spark as standard Parquet INT64 microseconds adjusted to UTC (not INT96), so a
reader in another time zone sees the same instant: DuckDB with `SET TimeZone = 'Asia/Seoul'` reads
a table written here and the run log of the shared lake."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from lakejobs.lake import LakeLayout

pytestmark = pytest.mark.interop

INSTANT = datetime(2026, 11, 20, 23, 30, 15, 123456, tzinfo=UTC)
SEOUL_WALL_TIME = "2026-11-21 08:30:15.123456+09"


def parquet_files(table_dir: Path) -> list[str]:
    """The data files of the table's current version (delta-rs lists them)."""
    return [uri.removeprefix("file://") for uri in DeltaTable(str(table_dir)).file_uris()]


def seoul() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.sql("SET TimeZone = 'Asia/Seoul'")
    return con


def assert_int64_utc_micros(file: str, column: str) -> None:
    """The Parquet column is INT64 with the TIMESTAMP(UTC-adjusted, microseconds) logical type."""
    parquet = pq.ParquetFile(file)
    physical = parquet.schema.column(parquet.schema.names.index(column)).physical_type
    assert physical == "INT64", f"{file}: {column} is {physical}"
    assert str(parquet.schema_arrow.field(column).type) == "timestamp[us, tz=UTC]"


def test_a_timestamp_written_by_spark_reads_back_as_the_same_instant_in_seoul(spark, tmp_path):
    table_dir = tmp_path / "instants"
    spark.createDataFrame([(1, INSTANT)], "id int, happened_at timestamp").write.format(
        "delta"
    ).save(str(table_dir))
    files = parquet_files(table_dir)
    assert_int64_utc_micros(files[0], "happened_at")
    got = seoul().sql(
        f"SELECT epoch_us(happened_at), CAST(happened_at AS VARCHAR), typeof(happened_at) FROM read_parquet({files})"
    )
    micros, shown, kind = got.fetchall()[0]
    assert micros == int(INSTANT.timestamp()) * 1_000_000 + INSTANT.microsecond
    assert shown == SEOUL_WALL_TIME
    assert kind == "TIMESTAMP WITH TIME ZONE"


def test_the_run_log_reads_the_same_instants_in_seoul_as_in_spark(spark, curated_lake):
    table_dir = Path(LakeLayout(f"file:{curated_lake}").curated_dir("lakejobs", "job_runs"))
    table_dir = Path(str(table_dir).removeprefix("file:"))
    runs = spark.read.format("delta").load(str(table_dir))
    want = dict(runs.select("run_id", F.unix_micros("started_at")).collect())
    files = parquet_files(table_dir)
    for file in files:
        assert_int64_utc_micros(file, "started_at")
    rows = seoul().sql(f"SELECT run_id, epoch_us(started_at) FROM read_parquet({files})")
    got = dict(rows.fetchall())
    assert got == want
    assert len(got) >= 5
