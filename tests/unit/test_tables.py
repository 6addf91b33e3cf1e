"""Curated tables by contract: strict conformance, atomic replaceWhere, guarded MERGE, the
commit a write made (none: zeros), re-deliveries that replace what a date owned, partition-pruned
MERGE, retry of commit conflicts and roll-back of a failed run."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
from delta.exceptions import ConcurrentAppendException, ConcurrentDeleteReadException
from pyspark.sql.types import StructType

from lakejobs.catalog import Catalog
from lakejobs.commits import CommitConflictError, described, is_delta_table, retry_on_conflict
from lakejobs.contracts import TableContract, parse_type
from lakejobs.errors import SchemaDriftError, UsageError
from lakejobs.lake import LakeLayout
from lakejobs.tables import TableWriter, conform

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
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    tables.append(CONTRACT, frame(spark, [("a", D1, 1), ("b", D2, 2)]))
    commit = tables.replace_where(CONTRACT, frame(spark, [("c", D1, 3)]), "day = '2026-11-01'")
    assert commit.version == 2 and commit.metric("numOutputRows") == 1
    rows = {
        (r.id, r.day)
        for r in spark.read.format("delta").load(tables.catalog.location(CONTRACT)).collect()
    }
    assert rows == {("c", D1), ("b", D2)}
    with pytest.raises(Exception, match=r"DELTA_REPLACE_WHERE_MISMATCH|replaceWhere"):
        tables.replace_where(CONTRACT, frame(spark, [("d", D2, 4)]), "day = '2026-11-01'")
    assert tables.catalog.version(CONTRACT) == 2  # the rejected write left the table as it was


def test_merge_upserts_on_the_key_and_respects_the_update_guard(spark, tmp_path):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    tables.append(CONTRACT, frame(spark, [("a", D2, 1), ("b", D1, 2)]))
    commit = tables.merge(
        CONTRACT,
        frame(spark, [("a", D1, 10), ("b", D2, 20), ("c", D1, 30)]),
        update_condition="s.day >= t.day",
    )
    assert commit.operation == "MERGE" and commit.metric("numSourceRows") == 3
    values = {
        r.id: r.value
        for r in spark.read.format("delta").load(tables.catalog.location(CONTRACT)).collect()
    }
    assert values == {"a": 1, "b": 20, "c": 30}  # 'a' came from an older day: not overwritten


def test_a_table_whose_schema_drifted_from_its_contract_is_refused(spark, tmp_path):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    location = tables.catalog.location(CONTRACT)
    spark.createDataFrame([("a", "x")], "id string, day string").write.format("delta").save(
        location
    )
    with pytest.raises(
        SchemaDriftError, match=r"does not match its contract \(columns differing: day, value\)"
    ):
        tables.catalog.ensure(CONTRACT)


def test_contract_types_parse_without_a_jvm():
    assert parse_type("map<string,bigint>").simpleString() == "map<string,bigint>"
    assert parse_type("array<string>").simpleString() == "array<string>"
    assert parse_type("decimal(9, 6)").simpleString() == "decimal(9,6)"


def _file_stats(spark, location: str) -> list[dict]:
    log = spark.read.json(f"{location}/_delta_log/*.json").where("add IS NOT NULL")
    return [json.loads(row.add.stats) for row in log.select("add").collect()]


def test_stats_columns_limit_delta_statistics_on_new_and_existing_tables(spark, tmp_path):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    location = tables.catalog.location(CONTRACT)
    # A table created before its contract named stats columns: statistics on every column.
    frame(spark, [("a", D1, 1)]).write.format("delta").partitionBy("day").save(location)
    assert set(_file_stats(spark, location)[0]["minValues"]) == {"id", "value"}

    tables.catalog.ensure(dataclasses.replace(CONTRACT, stats_columns=("value",)))
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


def content(spark, tables: TableWriter) -> set[tuple]:
    location = tables.catalog.location(CONTRACT)
    return {tuple(r) for r in spark.read.format("delta").load(location).collect()}


def test_a_write_that_commits_nothing_reports_zeros_not_the_previous_commit(spark, tmp_path):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    first = tables.replace_where(CONTRACT, frame(spark, [("a", D1, 1)]), "day = '2026-11-01'")
    assert first.made and first.metric("numOutputRows") == 1
    empty = tables.replace_where(CONTRACT, frame(spark, []), "day = '2026-11-02'")
    assert not empty.made and empty.version is None and empty.metric("numOutputRows") == 0
    nothing_new = tables.merge(CONTRACT, frame(spark, [("a", D1, 5)]), insert_only=True)
    assert not nothing_new.made and nothing_new.metric("numTargetRowsInserted") == 0
    assert tables.catalog.version(CONTRACT) == first.version
    assert content(spark, tables) == {("a", D1, 1)}  # insert-only: the existing key kept


def test_the_commit_returned_is_the_writes_own_when_another_writer_commits_after_it(
    spark, tmp_path, monkeypatch
):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    tables.append(CONTRACT, frame(spark, [("a", D1, 1)]))
    find = TableWriter._tagged

    def other_writer_first(self, contract, before, tag):  # another process commits meanwhile
        frame(spark, [("x", D2, 9), ("y", D2, 9), ("z", D2, 9)]).write.format("delta").mode(
            "append"
        ).save(self.catalog.location(contract))
        return find(self, contract, before, tag)

    monkeypatch.setattr(TableWriter, "_tagged", other_writer_first)
    commit = tables.append(CONTRACT, frame(spark, [("b", D1, 2)]))
    assert commit.version == 2 and commit.metric("numOutputRows") == 1
    assert tables.catalog.version(CONTRACT) == 3


def test_merge_with_owned_deletes_the_keys_a_redelivery_withdrew_and_only_those(spark, tmp_path):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    # 'value' plays the delivery date's part: 1 = D1's delivery, 2 = D2's.
    tables.append(CONTRACT, frame(spark, [("a", D1, 1), ("b", D1, 1), ("c", D2, 2)]))
    commit = tables.merge(CONTRACT, frame(spark, [("a", D1, 1)]), owned="value = 1")
    assert commit.metric("numTargetRowsMatchedDeleted") == 1  # 'b' withdrawn; 'c' is D2's
    assert content(spark, tables) == {("a", D1, 1), ("c", D2, 2)}


def test_a_delivery_into_new_partitions_is_an_insert_only_merge_that_rewrites_nothing(
    spark, tmp_path
):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    tables.append(CONTRACT, frame(spark, [("a", D1, 1)]))
    commit = tables.merge(
        CONTRACT, frame(spark, [("b", D2, 2), ("c", D2, 3)]), update_condition="s.day >= t.day"
    )
    assert commit.metric("numTargetRowsInserted") == 2 and commit.metric("numSourceRows") == 2
    assert commit.metric("numTargetFilesRemoved") == 0
    history = spark.sql(f"DESCRIBE HISTORY delta.`{tables.catalog.location(CONTRACT)}`").first()
    assert "matchedPredicates" in history["operationParameters"]
    assert json.loads(history["operationParameters"]["matchedPredicates"]) == []
    assert {row[0]: row[2] for row in content(spark, tables)} == {"a": 1, "b": 2, "c": 3}


def test_rows_that_appear_between_the_check_and_the_insert_only_merge_are_still_updated(
    spark, tmp_path, monkeypatch
):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    tables.append(CONTRACT, frame(spark, [("a", D1, 1)]))
    # As if another run committed ('a', D1) after the check found the partition empty.
    monkeypatch.setattr(TableWriter, "_holds_rows", lambda self, contract, where: False)
    commit = tables.merge(
        CONTRACT, frame(spark, [("a", D1, 10), ("b", D1, 2)]), update_condition="s.day >= t.day"
    )
    assert commit.metric("numTargetRowsUpdated") >= 1
    assert {row[0]: row[2] for row in content(spark, tables)} == {"a": 10, "b": 2}


def test_a_small_merge_rewrites_only_the_files_of_the_partitions_it_touches(spark, tmp_path):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    days = [date(2026, 11, d) for d in range(1, 9)]
    tables.append(CONTRACT, frame(spark, [(f"{d}-{i}", d, 1) for d in days for i in range(50)]))
    files = spark.read.format("delta").load(tables.catalog.location(CONTRACT)).inputFiles()
    in_first_day = [f for f in files if "day=2026-11-01" in f]
    redelivery = frame(spark, [(f"{days[0]}-0", days[0], 2), (f"{days[0]}-new", days[0], 2)])
    commit = tables.merge(CONTRACT, redelivery, owned="value = 2")
    assert (
        commit.metric("numTargetRowsUpdated") == 1 and commit.metric("numTargetRowsInserted") == 1
    )
    assert commit.metric("numTargetFilesRemoved") == len(in_first_day) < len(files)
    assert commit.metric("numTargetRowsCopied") == 49  # the rest of that day's rows, no other day
    assert commit.metric("numTargetBytesRemoved") > 0
    assert len(content(spark, tables)) == 8 * 50 + 1


def test_roll_back_restores_what_a_run_committed_and_leaves_other_runs_commits(spark, tmp_path):
    tables = TableWriter(Catalog(spark, LakeLayout(f"file:{tmp_path}")))
    other = dataclasses.replace(CONTRACT, name="unit.other")
    untouched = dataclasses.replace(CONTRACT, name="unit.untouched")
    context = spark.sparkContext
    tables.append(CONTRACT, frame(spark, [("a", D1, 1)]))
    tables.append(untouched, frame(spark, [("u", D1, 1)]))
    before = tables.catalog.versions([CONTRACT, other, untouched])
    assert before == {"unit.events": 1, "unit.other": None, "unit.untouched": 1}
    try:
        context.setJobGroup("unit.job@2026-11-01#run1", "the failing run")
        tables.merge(CONTRACT, frame(spark, [("a", D1, 10), ("b", D1, 2)]))
        tables.append(other, frame(spark, [("o", D1, 1)]))
        context.setJobGroup("unit.job@2026-11-02#run2", "another run")
        tables.append(untouched, frame(spark, [("v", D2, 2)]))
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    restored = tables.roll_back([CONTRACT, other, untouched], before, "unit.job@2026-11-01#run1")
    assert restored == {"unit.events": 1, "unit.other": 0}
    assert content(spark, tables) == {("a", D1, 1)}
    assert spark.read.format("delta").load(tables.catalog.location(other)).isEmpty()
    assert spark.read.format("delta").load(tables.catalog.location(untouched)).count() == 2


class Flaky:
    """An action that raises the given errors in turn, then returns 'done'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_commit_conflicts_are_retried_with_growing_waits():
    waits: list[float] = []
    action = Flaky(
        ConcurrentAppendException("files were added"), ConcurrentDeleteReadException("x")
    )
    assert retry_on_conflict(action, "unit.events", base_delay_s=1.0, sleep=waits.append) == "done"
    assert action.calls == 3 and len(waits) == 2
    assert 1.0 <= waits[0] < 2.0 <= waits[1] < 4.0


def test_conflicts_past_the_retry_budget_fail_with_one_line_and_other_errors_at_once():
    waits: list[float] = []
    action = Flaky(*[ConcurrentAppendException("files were added") for _ in range(5)])
    with pytest.raises(CommitConflictError, match=r"^unit.events: concurrent commits conflicted 3"):
        retry_on_conflict(action, "unit.events", attempts=3, sleep=waits.append)
    assert action.calls == 3 and len(waits) == 2
    broken = Flaky(ValueError("not a conflict"))
    with pytest.raises(ValueError):
        retry_on_conflict(broken, "unit.events", sleep=waits.append)
    assert broken.calls == 1 and len(waits) == 2


def test_a_table_first_committed_by_another_process_is_seen_although_this_jvm_looked_before(
    spark, tmp_path
):
    """Delta caches a table's log per JVM: a folder seen without a commit stays 'no table' to
    `DeltaTable.isDeltaTable` after another process commits (two runs creating the run log)."""
    import pyarrow as pa
    from deltalake import write_deltalake

    location = tmp_path / "table"
    (location / "_delta_log").mkdir(parents=True)
    assert not is_delta_table(spark, str(location))
    assert not is_delta_table(spark, str(tmp_path / "absent"))
    write_deltalake(str(location), pa.table({"id": ["a"]}))  # a writer outside this JVM
    assert is_delta_table(spark, str(location))
