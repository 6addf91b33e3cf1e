"""Curated tables by contract: strict conformance, atomic replaceWhere, guarded MERGE."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
from pyspark.sql.types import StructType

from lakejobs.contracts import TableContract, parse_type
from lakejobs.errors import UsageError
from lakejobs.lake import LakeLayout
from lakejobs.tables import CuratedTables, SchemaDriftError, conform, described

CONTRACT = TableContract(
    name="unit.events",
    schema=StructType.fromJson(
        {
            "type": "struct",
            "fields": [
                {"name": "id", "type": "string", "nullable": False, "metadata": {}},
                {"name": "day", "type": "date", "nullable": False, "metadata": {}},
                {"name": "value", "type": "long", "nullable": True, "metadata": {}},
            ],
        }
    ),
    partition_by=("day",),
    primary_key=("id",),
)
D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def frame(spark, rows):
    return spark.createDataFrame(rows, "id string, day date, value long")


def test_conform_names_missing_and_unexpected_columns(spark):
    df = spark.createDataFrame([("a", 1)], "id string, extra int")
    with pytest.raises(SchemaDriftError) as error:
        conform(df, CONTRACT)
    assert str(error.value) == (
        "unit.events: data does not match the contract (missing: day, value; not in contract: extra)"
    )


def test_conform_orders_and_casts_and_drops_bookkeeping(spark):
    df = spark.createDataFrame(
        [(1, "a", date(2026, 11, 1), "x")], "value int, id string, day date, _tmp string"
    )
    assert conform(df, CONTRACT).dtypes == [("id", "string"), ("day", "date"), ("value", "bigint")]


def test_replace_where_swaps_one_slice_in_one_commit_and_rejects_rows_outside_it(spark, tmp_path):
    tables = CuratedTables(spark, LakeLayout(f"file:{tmp_path}"))
    tables.append(CONTRACT, frame(spark, [("a", D1, 1), ("b", D2, 2)]))
    commit = tables.replace_where(CONTRACT, frame(spark, [("c", D1, 3)]), "day = '2026-11-01'")
    assert commit.version == 2 and commit.metric("numOutputRows") == 1
    rows = {
        (r.id, r.day) for r in spark.read.format("delta").load(tables.location(CONTRACT)).collect()
    }
    assert rows == {("c", D1), ("b", D2)}
    with pytest.raises(Exception, match=r"DELTA_REPLACE_WHERE_MISMATCH|replaceWhere"):
        tables.replace_where(CONTRACT, frame(spark, [("d", D2, 4)]), "day = '2026-11-01'")
    assert tables.version(CONTRACT) == 2  # the rejected write left the table as it was


def test_merge_upserts_on_the_key_and_respects_the_update_guard(spark, tmp_path):
    tables = CuratedTables(spark, LakeLayout(f"file:{tmp_path}"))
    tables.append(CONTRACT, frame(spark, [("a", D2, 1), ("b", D1, 2)]))
    commit = tables.merge(
        CONTRACT,
        frame(spark, [("a", D1, 10), ("b", D2, 20), ("c", D1, 30)]),
        update_condition="s.day >= t.day",
    )
    assert commit.operation == "MERGE" and commit.metric("numSourceRows") == 3
    values = {
        r.id: r.value for r in spark.read.format("delta").load(tables.location(CONTRACT)).collect()
    }
    assert values == {"a": 1, "b": 20, "c": 30}  # 'a' came from an older day: not overwritten


def test_a_table_whose_schema_drifted_from_its_contract_is_refused(spark, tmp_path):
    tables = CuratedTables(spark, LakeLayout(f"file:{tmp_path}"))
    location = tables.location(CONTRACT)
    spark.createDataFrame([("a", "x")], "id string, day string").write.format("delta").save(
        location
    )
    with pytest.raises(
        SchemaDriftError, match=r"does not match its contract \(columns differing: day, value\)"
    ):
        tables.ensure(CONTRACT)


def test_contract_types_parse_without_a_jvm():
    assert parse_type("map<string,bigint>").simpleString() == "map<string,bigint>"
    assert parse_type("array<string>").simpleString() == "array<string>"
    assert parse_type("decimal(9, 6)").simpleString() == "decimal(9,6)"


def _file_stats(spark, location: str) -> list[dict]:
    log = spark.read.json(f"{location}/_delta_log/*.json").where("add IS NOT NULL")
    return [json.loads(row.add.stats) for row in log.select("add").collect()]


def test_stats_columns_limit_delta_statistics_on_new_and_existing_tables(spark, tmp_path):
    tables = CuratedTables(spark, LakeLayout(f"file:{tmp_path}"))
    location = tables.location(CONTRACT)
    # A table created before its contract named stats columns: statistics on every column.
    frame(spark, [("a", D1, 1)]).write.format("delta").partitionBy("day").save(location)
    assert set(_file_stats(spark, location)[0]["minValues"]) == {"id", "value"}

    tables.ensure(dataclasses.replace(CONTRACT, stats_columns=("value",)))
    tables.append(CONTRACT, frame(spark, [("b", D2, 2)]))
    newest = max(_file_stats(spark, location), key=lambda stats: stats["minValues"].get("value", 0))
    assert newest["minValues"] == {"value": 2}


def test_stats_columns_must_be_contract_columns():
    with pytest.raises(UsageError, match=r"unknown key/partition/stats column\(s\) \['nope'\]"):
        dataclasses.replace(CONTRACT, name="unit.other", stats_columns=("nope",))


def test_writes_name_their_spark_jobs_after_the_table_and_restore_the_description(spark):
    context = spark.sparkContext
    description = "spark.job.description"
    context.setJobDescription("lakejobs unit.job 2026-11-01")
    try:
        with described(spark, "write unit.events"):
            assert context.getLocalProperty(description) == (
                "lakejobs unit.job 2026-11-01: write unit.events"
            )
        assert context.getLocalProperty(description) == "lakejobs unit.job 2026-11-01"
    finally:
        context.setLocalProperty(description, None)
    with pytest.raises(RuntimeError), described(spark, "write unit.events"):
        assert context.getLocalProperty(description) == "write unit.events"
        raise RuntimeError("a failed write")
    assert context.getLocalProperty(description) is None
