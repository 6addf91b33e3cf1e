"""events.daily_active_users and events.retention, built incrementally by the jobs (a backfill
delivered after a later date), equal an independent DuckDB computation over the curated events."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from jobs.events import activity, ingest_events
from jobs.events.generate import generate
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import run_jobs
from lakejobs.pseudonym import KEY_ENV
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.oracle

# The later date first, then the day before as a backfill: its late events move users into
# earlier cohorts, and its events repeated by the later delivery are already curated.
INGEST_ORDER = (date(2026, 11, 11), date(2026, 11, 10))
ROWS = 1_200
MAX_DAY = 7

DAU_SQL = """
SELECT CAST(event_date AS DATE) AS event_date, count(DISTINCT user_key) AS dau, count(*) AS events
FROM events GROUP BY 1 ORDER BY 1
"""

RETENTION_SQL = f"""
WITH firsts AS (
    SELECT user_key, min(CAST(event_date AS DATE)) AS cohort_date FROM events GROUP BY user_key
), sizes AS (
    SELECT cohort_date, count(*) AS cohort_size FROM firsts GROUP BY cohort_date
), active AS (
    SELECT f.cohort_date, CAST(CAST(e.event_date AS DATE) - f.cohort_date AS INTEGER) AS day_n,
           count(DISTINCT e.user_key) AS active_users
    FROM events e JOIN firsts f USING (user_key)
    GROUP BY ALL
), days AS (
    SELECT CAST(range AS INTEGER) AS day_n FROM range(0, {MAX_DAY + 1})
)
SELECT s.cohort_date, d.day_n, s.cohort_size, coalesce(a.active_users, 0) AS active_users,
       coalesce(a.active_users, 0) / s.cohort_size AS retention
FROM sizes s CROSS JOIN days d
LEFT JOIN active a ON a.cohort_date = s.cohort_date AND a.day_n = d.day_n
ORDER BY 1, 2
"""


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("events-oracle")
    settings = dataclasses.replace(TEST_SETTINGS, lake=str(root))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, "oracle-test-pseudonym-key")
        for day in INGEST_ORDER:
            generate(root, day, rows=ROWS)
            result = run_jobs(
                spark,
                settings,
                [ingest_events.JOB, activity.JOB],
                day,
                params={"retention_days": str(MAX_DAY)},
                echo=lambda line: None,
            )
            assert result.failed == (), result.records
    return root


def curated(spark, lake: Path, name: str):
    location = Catalog(spark, LakeLayout(str(lake))).location(table_contract(name))
    return spark.read.format("delta").load(location)


def duckdb_answer(spark, lake: Path, sql: str) -> list[tuple]:
    events = curated(spark, lake, "events.events").select("user_key", "event_date").toPandas()
    events["event_date"] = pd.to_datetime(events["event_date"])
    con = duckdb.connect()
    con.register("events", events)
    return con.execute(sql).fetchall()


def test_daily_active_users_equal_duckdb(spark, lake):
    expected = duckdb_answer(spark, lake, DAU_SQL)
    actual = [
        tuple(r)
        for r in curated(spark, lake, "events.daily_active_users")
        .select("event_date", "dau", "events")
        .orderBy("event_date")
        .collect()
    ]
    assert len(actual) > MAX_DAY
    assert actual == expected


def test_retention_equals_duckdb_for_every_cohort(spark, lake):
    expected = duckdb_answer(spark, lake, RETENTION_SQL)
    actual = [
        tuple(r)
        for r in curated(spark, lake, "events.retention")
        .select("cohort_date", "day_n", "cohort_size", "active_users", "retention")
        .orderBy("cohort_date", "day_n")
        .collect()
    ]
    assert [r[:4] for r in actual] == [r[:4] for r in expected]
    assert [r[4] for r in actual] == pytest.approx([r[4] for r in expected], abs=1e-12)
    assert any(0 < r[4] < 1 for r in actual)
