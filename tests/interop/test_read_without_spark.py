"""Every curated table of a generated lake is readable without Spark: by delta-rs (`deltalake`)
and by DuckDB, with the same columns, types and row counts as Spark sees.

DuckDB's `delta` extension is downloaded from extensions.duckdb.org on first use, which this
machine cannot reach; when `INSTALL delta` fails, DuckDB reads the Parquet files that delta-rs
lists as the table's current version (`DeltaTable.file_uris()`), taking partition values from the
`col=value` folders. That is only correct while no table uses deletion vectors or column mapping,
which the test checks in the Delta protocol.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable
from pyspark.sql import types as T

from lakejobs.catalog import find_tables

pytestmark = pytest.mark.interop

EXPECTED_TABLES = {
    "exams.scores",
    "exams.grades",
    "exams.grade_cutoffs",
    "exams.school_report",
    "ads.spend_daily",
    "ads.campaign_roas_daily",
    "ads.creative_ab_test",
    "events.events",
    "events.daily_active_users",
    "events.retention",
    "lakejobs.job_runs",
}


def arrow_type_for(spark_type: T.DataType) -> pa.DataType:
    """The Arrow type delta-rs should give a Spark column (strings normalised to `string`)."""
    simple = {
        T.StringType: pa.string(),
        T.LongType: pa.int64(),
        T.IntegerType: pa.int32(),
        T.ShortType: pa.int16(),
        T.ByteType: pa.int8(),
        T.DoubleType: pa.float64(),
        T.FloatType: pa.float32(),
        T.BooleanType: pa.bool_(),
        T.DateType: pa.date32(),
        T.BinaryType: pa.binary(),
    }
    for spark_class, arrow in simple.items():
        if isinstance(spark_type, spark_class):
            return arrow
    if isinstance(spark_type, T.TimestampType):
        return pa.timestamp("us", tz="UTC")
    if isinstance(spark_type, T.DecimalType):
        return pa.decimal128(spark_type.precision, spark_type.scale)
    if isinstance(spark_type, T.ArrayType):
        return pa.list_(arrow_type_for(spark_type.elementType))
    if isinstance(spark_type, T.MapType):
        return pa.map_(arrow_type_for(spark_type.keyType), arrow_type_for(spark_type.valueType))
    raise AssertionError(f"no Arrow mapping for {spark_type}")


def normalise_arrow(t: pa.DataType) -> pa.DataType:
    """delta-rs may hand out large/view string and list variants: compare them as plain ones."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_list(t):
        return pa.list_(normalise_arrow(t.value_type))
    if pa.types.is_map(t):
        return pa.map_(normalise_arrow(t.key_type), normalise_arrow(t.item_type))
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    return t


def duckdb_type_for(spark_type: T.DataType) -> str:
    """DuckDB's spelling of a Spark type (as DESCRIBE prints it)."""
    if isinstance(spark_type, T.ArrayType):
        return duckdb_type_for(spark_type.elementType) + "[]"
    if isinstance(spark_type, T.MapType):
        key, value = duckdb_type_for(spark_type.keyType), duckdb_type_for(spark_type.valueType)
        return f"MAP({key}, {value})"
    if isinstance(spark_type, T.DecimalType):
        return f"DECIMAL({spark_type.precision},{spark_type.scale})"
    names = {
        "string": "VARCHAR",
        "bigint": "BIGINT",
        "int": "INTEGER",
        "smallint": "SMALLINT",
        "tinyint": "TINYINT",
        "double": "DOUBLE",
        "float": "FLOAT",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "binary": "BLOB",
    }
    return names[spark_type.simpleString()]


@pytest.fixture(scope="module")
def spark_view(spark, curated_lake: Path) -> dict[str, dict]:
    """What Spark sees: per table its location, schema, partition columns and row count."""
    view = {}
    for found in find_tables(spark, str(curated_lake)):
        df = spark.read.format("delta").load(found.location)
        detail = spark.sql(f"DESCRIBE DETAIL delta.`{found.location}`").first()
        view[found.name] = {
            "path": found.location.removeprefix("file:"),
            "schema": df.schema,
            "partitions": list(detail["partitionColumns"]),
            "rows": df.count(),
        }
    return view


@pytest.fixture(scope="module")
def duckdb_reads_delta() -> bool:
    """True if DuckDB's delta extension can be installed here (it needs the internet)."""
    con = duckdb.connect()
    try:
        con.sql("INSTALL delta")
        con.sql("LOAD delta")
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


def test_the_lake_holds_every_domains_curated_tables(spark_view):
    assert set(spark_view) >= EXPECTED_TABLES
    assert all(spark_view[name]["rows"] > 0 for name in EXPECTED_TABLES)


def test_delta_rs_reads_every_table_with_sparks_columns_types_and_rows(spark_view):
    for name, seen in spark_view.items():
        table = DeltaTable(seen["path"]).to_pyarrow_table()
        assert table.num_rows == seen["rows"], name
        assert table.column_names == seen["schema"].names, name
        for field in seen["schema"].fields:
            got = normalise_arrow(table.schema.field(field.name).type)
            assert got == arrow_type_for(field.dataType), f"{name}.{field.name}: {got}"


def test_no_table_needs_a_reader_feature_that_plain_parquet_readers_lack(spark_view):
    """Deletion vectors or column mapping would make the Parquet files alone a wrong answer."""
    for name, seen in spark_view.items():
        protocol = DeltaTable(seen["path"]).protocol()
        features = set(protocol.reader_features or [])
        assert not features & {"deletionVectors", "columnMapping"}, (name, protocol)


def _duckdb_relation(con, seen: dict, use_extension: bool):
    if use_extension:
        return con.sql(f"SELECT * FROM delta_scan('{seen['path']}')")
    files = DeltaTable(seen["path"]).file_uris()
    types = {
        f.name: duckdb_type_for(f.dataType)
        for f in seen["schema"].fields
        if f.name in seen["partitions"]
    }
    columns = ", ".join(f'"{c}"' for c in seen["schema"].names)
    if not files:
        return None
    listing = ", ".join(f"'{f}'" for f in files)
    hive = ""
    if types:
        type_list = ", ".join(f"'{k}': {v}" for k, v in types.items())
        hive = f", hive_partitioning = true, hive_types = {{{type_list}}}"
    return con.sql(f"SELECT {columns} FROM read_parquet([{listing}]{hive})")


def test_duckdb_reads_every_table_with_sparks_columns_types_and_rows(
    spark_view, duckdb_reads_delta
):
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    for name, seen in spark_view.items():
        relation = _duckdb_relation(con, seen, duckdb_reads_delta)
        if relation is None:  # a table with no data files (e.g. an empty quarantine)
            assert seen["rows"] == 0, f"{name}: delta-rs lists no files but Spark sees rows"
            continue
        assert relation.columns == seen["schema"].names, name
        got = [re.sub(r"\s+", " ", str(t)) for t in relation.types]
        # Timestamps are Parquet INT64 microseconds adjusted to UTC (the session's
        # outputTimestampType), so even raw Parquet reading gives TIMESTAMP WITH TIME ZONE.
        want = [duckdb_type_for(f.dataType) for f in seen["schema"].fields]
        assert got == want, name
        assert relation.count("*").fetchall()[0][0] == seen["rows"], name


def test_duckdb_timestamps_are_the_same_utc_instants_as_delta_rs(spark_view, duckdb_reads_delta):
    con = duckdb.connect()
    checked = 0
    for name, seen in spark_view.items():
        columns = [f.name for f in seen["schema"].fields if isinstance(f.dataType, T.TimestampType)]
        relation = _duckdb_relation(con, seen, duckdb_reads_delta)
        if not columns or relation is None:
            continue
        table = DeltaTable(seen["path"]).to_pyarrow_table(columns=columns)
        for column in columns:
            values = table.column(column).cast(pa.int64())  # microseconds since the epoch, UTC
            want = (pc.min(values).as_py(), pc.max(values).as_py())
            got = relation.aggregate(f'min(epoch_us("{column}")), max(epoch_us("{column}"))')
            assert tuple(got.fetchall()[0]) == want, f"{name}.{column}"
            checked += 1
    assert checked >= 3  # installs.install_time, events.event_time, job_runs.started_at, ...


def test_duckdb_answers_a_group_by_like_spark(spark, spark_view, duckdb_reads_delta):
    seen = spark_view["exams.grades"]
    want = {
        tuple(r)
        for r in spark.read.format("delta")
        .load(seen["path"])
        .groupBy("subject", "grade")
        .count()
        .collect()
    }
    con = duckdb.connect()
    relation = _duckdb_relation(con, seen, duckdb_reads_delta)
    got = set(relation.aggregate("subject, grade, count(*)", "subject, grade").fetchall())
    assert got == want
