"""The events pipeline end to end on three generated deliveries (late events, duplicates within
and across deliveries, two schema versions, malformed lines): accounting against the generator's
manifest, one row per event_id, a late batch touching only its partitions, idempotent re-runs."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.events import activity, ingest_events
from jobs.events.generate import generate, read_manifest
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import run_jobs
from lakejobs.pseudonym import KEY_ENV
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.integration

# Two consecutive deliveries (the second repeats events of the first), then one nine days
# later whose late events reach back five days only: older partitions must stay untouched.
DATES = (date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 20))
ROWS = 1_500
OUTPUTS = (
    "events.events",
    "events.events_quarantine",
    "events.daily_active_users",
    "events.retention",
)


def settings_for(lake: Path):
    return dataclasses.replace(TEST_SETTINGS, lake=str(lake))


def run_date(spark, lake: Path, day: date, *, force: bool = False) -> None:
    result = run_jobs(
        spark,
        settings_for(lake),
        [ingest_events.JOB, activity.JOB],
        day,
        echo=lambda line: None,
        force=force,
    )
    assert result.failed == () and result.skipped == (), result.records


def table(spark, lake: Path, name: str) -> DataFrame:
    location = Catalog(spark, LakeLayout(settings_for(lake).lake)).location(table_contract(name))
    return spark.read.format("delta").load(location)


def files_by_partition(spark, lake: Path) -> dict[str, set[str]]:
    partitions: dict[str, set[str]] = defaultdict(set)
    for file in table(spark, lake, "events.events").inputFiles():
        partitions[re.search(r"event_date=([0-9-]+)", file)[1]].add(file)
    return dict(partitions)


def rows(df: DataFrame) -> set[tuple]:
    return {tuple(r) for r in df.collect()}


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("events-lake")
    for day in DATES:
        generate(root, day, rows=ROWS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, "integration-test-pseudonym-key")
        for day in DATES[:2]:
            run_date(spark, root, day)
        before_late = {
            "files": files_by_partition(spark, root),
            "dau": rows(table(spark, root, "events.daily_active_users")),
        }
        run_date(spark, root, DATES[2])
        yield {"root": root, "before_late": before_late}


def manifest(lake: dict, day: date) -> dict:
    return read_manifest(lake["root"] / "raw" / "events" / f"ingest_date={day.isoformat()}")


def ingest_runs(spark, lake: dict) -> dict[date, dict]:
    log = table(spark, lake["root"], "lakejobs.job_runs").where(
        "job = 'events.ingest_events' AND status = 'succeeded'"
    )
    return {r["run_date"]: r.asDict() for r in log.orderBy("started_at").collect()}


def test_row_accounting_reconciles_with_what_the_generator_injected(spark, lake):
    runs = ingest_runs(spark, lake)
    for day in DATES:
        injected = manifest(lake, day)
        dups = injected["duplicates"]
        repeats_ingested = date.fromisoformat(dups["cross_date_from"]) in DATES
        cross_as_dups = dups["cross_date"] if repeats_ingested else 0
        run = runs[day]
        assert run["rows_in"] == injected["rows"] == ROWS, day
        assert run["rows_quarantined"] == sum(injected["malformed"].values()), day
        assert run["rows_duplicates"] == dups["in_batch"] + cross_as_dups, day
        assert run["rows_written"] == injected["events"] + dups["cross_date"] - cross_as_dups
    # the second delivery repeats events of the first: dedup across dates is exercised
    assert manifest(lake, DATES[1])["duplicates"]["cross_date_from"] == DATES[0].isoformat()


def test_each_kind_of_bad_line_lands_in_quarantine_with_its_reason(spark, lake):
    quarantine = table(spark, lake["root"], "events.events_quarantine")
    for day in DATES:
        bad = manifest(lake, day)["malformed"]
        by_reason = {
            tuple(r["reasons"]): r["count"]
            for r in quarantine.where(F.col("ingest_date") == day)
            .groupBy("reasons")
            .count()
            .collect()
        }
        assert by_reason == {
            ("malformed",): bad["truncated_json"] + bad["not_an_object"],
            ("null:event_id",): bad["missing_event_id"],
            ("bad_type:event_time",): bad["unparseable_time"],
        }, day


def test_every_event_id_is_stored_once_with_a_pseudonymised_user(spark, lake):
    events = table(spark, lake["root"], "events.events")
    runs = ingest_runs(spark, lake)
    assert events.count() == events.select("event_id").distinct().count()
    assert events.count() == sum(r["rows_written"] for r in runs.values())
    assert events.where("user_key NOT RLIKE '^[0-9a-f]{64}$'").isEmpty()
    assert events.where("schema_version = 1 AND app_version IS NOT NULL").isEmpty()
    assert events.where("event_date != to_date(event_time)").isEmpty()
    first = manifest(lake, DATES[0])
    delivered = events.where(F.col("ingest_date") == DATES[0])
    late = delivered.where(F.col("event_date") < DATES[0]).count()
    # the first delivery's late events plus the copies of the (never ingested) day before
    assert late == first["late_events"] + first["duplicates"]["cross_date"]


def test_a_late_batch_only_adds_to_the_partitions_it_touches(spark, lake):
    before = lake["before_late"]
    after = files_by_partition(spark, lake["root"])
    events = table(spark, lake["root"], "events.events")
    touched = {
        r.event_date.isoformat()
        for r in events.where(F.col("ingest_date") == DATES[2])
        .select("event_date")
        .distinct()
        .collect()
    }
    untouched = set(before["files"]) - touched
    assert untouched, "the late batch should leave some partitions alone"
    assert set(manifest(lake, DATES[2])["event_dates"]) <= touched
    for partition in untouched:
        assert after[partition] == before["files"][partition], partition
    for partition in touched & set(before["files"]):
        assert before["files"][partition] <= after[partition], partition  # nothing rewritten
    dau = rows(table(spark, lake["root"], "events.daily_active_users"))
    kept = {r for r in before["dau"] if r[0].isoformat() in untouched}
    assert kept and kept <= dau  # same counts and the same run_id: never rewritten


def test_rerunning_a_date_leaves_identical_content(spark, lake):
    snapshots = {
        name: table(spark, lake["root"], name).drop("run_id").localCheckpoint() for name in OUTPUTS
    }
    events_before = table(spark, lake["root"], "events.events").localCheckpoint()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, "integration-test-pseudonym-key")
        run_date(spark, lake["root"], DATES[1], force=True)
    for name, before in snapshots.items():
        after = table(spark, lake["root"], name).drop("run_id")
        assert before.exceptAll(after).isEmpty() and after.exceptAll(before).isEmpty(), name
    events_after = table(spark, lake["root"], "events.events")
    assert events_before.exceptAll(events_after).isEmpty()  # not even the lineage changed
    rerun = ingest_runs(spark, lake)[DATES[1]]
    assert rerun["rows_written"] == 0
    assert rerun["rows_duplicates"] == rerun["rows_in"] - rerun["rows_quarantined"]
