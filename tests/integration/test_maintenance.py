"""`lakejobs maintain` on a small real lake: files no version within the retention needs are
deleted, time travel within the retention still works, older versions are gone, and quarantine
rows older than `quarantine_days` are trimmed.

Delta only vacuums files whose removal (tombstone) and modification time are older than the
retention, so the test ages one replaced version by ten days: it moves that commit's tombstones
and the replaced files' mtimes back, which is exactly what ten days of waiting would do.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from lakejobs.catalog import Catalog
from lakejobs.config import Settings
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.maintenance import maintain
from lakejobs.tables import TableWriter

TODAY = date(2026, 11, 20)
OLD, RECENT = date(2026, 9, 1), date(2026, 11, 19)  # 80 days and 1 day before TODAY
QUARANTINE = table_contract("exams.scores_quarantine")
TEN_DAYS = 10 * 24 * 3600


def rows(spark, day: date, tag: str, n: int):
    data = [
        (day, f"{tag}.csv", f"line {i} of {tag}", ["malformed"], f"run-{tag}") for i in range(n)
    ]
    return spark.createDataFrame(data, QUARANTINE.schema)


def age_commit(table_dir: Path, version: int) -> list[Path]:
    """Move commit `version`'s tombstones and the files it removed ten days into the past."""
    commit = table_dir / "_delta_log" / f"{version:020d}.json"
    then_ms = int((time.time() - TEN_DAYS) * 1000)
    actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
    removed = []
    for action in actions:
        if "remove" in action:
            action["remove"]["deletionTimestamp"] = then_ms
            path = table_dir / unquote(action["remove"]["path"])
            os.utime(path, (then_ms / 1000, then_ms / 1000))
            removed.append(path)
    commit.write_text("".join(json.dumps(a) + "\n" for a in actions))
    # Hadoop's local file system keeps a checksum beside each file; it now describes the old text.
    commit.with_name(f".{commit.name}.crc").unlink(missing_ok=True)
    return removed


def test_maintain_vacuums_beyond_retention_keeps_time_travel_within_and_trims_quarantine(
    spark, tmp_path: Path
):
    lake = tmp_path / "lake"
    settings = Settings(
        profile="t",
        lake=str(lake),
        master="local[2]",
        metastore="derby-memory",
        retention_days=7,
        quarantine_days=30,
    )
    tables = TableWriter(Catalog(spark, LakeLayout(settings.lake)))
    tables.append(QUARANTINE, rows(spark, OLD, "old-a", 5))  # v1 (v0 creates the table)
    tables.append(QUARANTINE, rows(spark, OLD, "old-b", 5))  # v2
    tables.append(QUARANTINE, rows(spark, RECENT, "recent-1", 4))  # v3
    predicate = f"ingest_date = '{RECENT}'"
    replaced = tables.replace_where(QUARANTINE, rows(spark, RECENT, "recent-2", 3), predicate)
    tables.replace_where(QUARANTINE, rows(spark, RECENT, "recent-3", 2), predicate)
    table_dir = lake / "curated" / "exams" / "scores_quarantine"
    aged = age_commit(table_dir, replaced.version)  # recent-1's files: removed "ten days ago"
    assert aged and all(p.is_file() for p in aged)
    location = tables.catalog.location(QUARANTINE)

    results = maintain(spark, settings, today=TODAY)

    assert [(r.table, r.error, r.quarantine_rows_deleted) for r in results] == [
        ("exams.scores_quarantine", None, 10)
    ]
    current = spark.read.format("delta").load(location)
    assert sorted(r["source_file"] for r in current.select("source_file").distinct().collect()) == [
        "recent-3.csv"
    ]
    assert current.count() == 2
    # Files only the aged version used are deleted; versions within the retention still read.
    assert not any(p.exists() for p in aged)
    within = spark.read.format("delta").option("versionAsOf", replaced.version).load(location)
    assert within.where(F.col("ingest_date") == RECENT).count() == 3
    assert within.where(F.col("ingest_date") == OLD).count() == 10
    with pytest.raises(Exception, match=r"(?i)(not exist|cannot be found|FileNotFound)"):
        spark.read.format("delta").option("versionAsOf", replaced.version - 1).load(
            location
        ).collect()
    # OPTIMIZE compacted what is left (one partition) into one file.
    assert DeltaTable.forPath(spark, location).detail().first()["numFiles"] == 1


def test_maintain_leaves_a_lake_without_tables_alone(spark, tmp_path: Path):
    settings = Settings(profile="t", lake=str(tmp_path / "empty"), master="local[2]")
    assert maintain(spark, settings, today=TODAY) == []
