"""Pure transforms of the events domain on tiny data: version mapping, validation reasons,
curated shape, daily active users, retention and the cohorts a delivery touches."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import DataFrame

from jobs.events.transforms import (
    RAW_JSON_SCHEMA,
    canonical_events,
    curated_events,
    daily_active_users,
    retention,
    touched_cohorts,
)
from lakejobs.contracts import raw_source
from lakejobs.jsonlines import read_raw_json_lines
from lakejobs.quality import load_suite, validate_rows

KEY = b"unit-test-key-0123456789"
BOOKKEEPING = "_source_file string, _raw_record string, _malformed boolean"


def raw_frame(spark, rows: list[dict]) -> DataFrame:
    fields = RAW_JSON_SCHEMA.fieldNames()
    data = [(*[r.get(f) for f in fields], "f.jsonl", "{}", False) for r in rows]
    ddl = ", ".join(f"{f} string" for f in fields)
    return spark.createDataFrame(data, f"{ddl}, {BOOKKEEPING}")


def test_v1_and_v2_lines_map_onto_the_canonical_columns(spark):
    raw = raw_frame(
        spark,
        [
            {"event_id": "e1", "uid": "u1", "ts": "1763625600000", "type": "click"},
            {
                "event_id": "e2",
                "user_id": "u2",
                "event_time": "2026-11-20T09:00:00.5+09:00",
                "event_type": "app_open",
                "app_version": "3.0.0",
                "props": '{"screen":"home"}',
            },
            {"event_id": "e3", "user_id": "u3", "event_time": "2026-11-20T09:00:00"},
        ],
    )
    expected = spark.createDataFrame(
        [
            ("e1", "u1", "1763625600000", "click", None, None, "1", "f.jsonl", "{}", False),
            (
                "e2",
                "u2",
                "1795132800500",
                "app_open",
                "3.0.0",
                '{"screen":"home"}',
                "2",
                "f.jsonl",
                "{}",
                False,
            ),
            ("e3", "u3", "unparseable", None, None, None, "2", "f.jsonl", "{}", False),
        ],
        "event_id string, user_id string, event_time string, event_type string, "
        f"app_version string, props string, schema_version string, {BOOKKEEPING}",
    )
    assert_df_equality(canonical_events(raw), expected, ignore_nullable=True)


def test_each_bad_line_gets_exactly_its_reasons(spark, tmp_path: Path):
    lines = {
        "good v1": '{"event_id": "a1", "uid": "u1", "ts": 1763625600000, "type": "click"}',
        "good v2": '{"event_id": "a2", "user_id": "u2", "event_time": "2026-11-20T09:00:00Z", "event_type": "click"}',
        "truncated": '{"event_id": "a3", "uid": "u1", "ts": 17',
        "not an object": '["a4"]',
        "missing id": '{"uid": "u1", "ts": 1763625600000, "type": "click"}',
        "bad v1 time": '{"event_id": "a5", "uid": "u1", "ts": "yesterday", "type": "click"}',
        "no offset": '{"event_id": "a6", "user_id": "u2", "event_time": "2026-11-20T09:00:00", "event_type": "click"}',
        "seconds": '{"event_id": "a7", "uid": "u1", "ts": 1763625600, "type": "click"}',
        "bad id": '{"event_id": "a 8", "uid": "u1", "ts": 1763625600000, "type": "click"}',
        "no user": '{"event_id": "a9", "event_time": "2026-11-20T09:00:00Z", "event_type": "click"}',
    }
    (tmp_path / "d.jsonl").write_text("\n".join(lines.values()) + "\n", encoding="utf-8")
    raw = read_raw_json_lines(spark, f"file:{tmp_path}", RAW_JSON_SCHEMA)
    staged = validate_rows(canonical_events(raw), raw_source("events"), load_suite("events.events"))
    reasons = {r["_raw_record"]: r["_reasons"] for r in staged.collect()}
    assert {name: reasons[line] for name, line in lines.items()} == {
        "good v1": [],
        "good v2": [],
        "truncated": ["malformed"],
        "not an object": ["malformed"],
        "missing id": ["null:event_id"],
        "bad v1 time": ["bad_type:event_time"],
        "no offset": ["bad_type:event_time"],
        "seconds": ["out_of_range:event_time"],
        "bad id": ["bad_format:event_id"],
        "no user": ["null:user_id"],
    }


def test_curated_events_are_utc_dated_and_pseudonymised(spark):
    good = spark.createDataFrame(
        [("e1", "u1", 1795143600000, "click", "3.0.0", None, 2, "file:/f.jsonl", "{}", [], 0)],
        "event_id string, user_id string, event_time bigint, event_type string, "
        "app_version string, props string, schema_version int, _source_file string, "
        "_raw_record string, _reasons array<string>, _quarantined int",
    )
    expected = spark.createDataFrame(
        [
            (
                "e1",
                datetime(2026, 11, 20, 3, 0),  # 2026-11-20T12:00+09:00
                date(2026, 11, 20),
                hmac.new(KEY, b"u1", hashlib.sha256).hexdigest(),
                "click",
                "3.0.0",
                None,
                2,
                date(2026, 11, 21),
                "file:/f.jsonl",
                "run-1",
            )
        ],
        "event_id string, event_time timestamp, event_date date, user_key string, "
        "event_type string, app_version string, props string, schema_version int, "
        "ingest_date date, source_file string, run_id string",
    )
    actual = curated_events(good, KEY, date(2026, 11, 21), "run-1")
    assert_df_equality(actual, expected, ignore_nullable=True)


def events_frame(spark, rows: list[tuple[str, str, str]]) -> DataFrame:
    """(user_key, event_date, ingest_date) rows as a minimal events.events."""
    return spark.createDataFrame(
        [(u, date.fromisoformat(e), date.fromisoformat(i)) for u, e, i in rows],
        "user_key string, event_date date, ingest_date date",
    )


ACTIVITY = [
    ("A", "2026-11-01", "2026-11-01"),
    ("A", "2026-11-01", "2026-11-01"),
    ("A", "2026-11-02", "2026-11-02"),
    ("A", "2026-11-04", "2026-11-04"),
    ("B", "2026-11-01", "2026-11-01"),
    ("C", "2026-11-02", "2026-11-02"),
    ("C", "2026-11-03", "2026-11-03"),
]


def test_daily_active_users_count_distinct_users_and_events(spark):
    expected = spark.createDataFrame(
        [
            (date(2026, 11, 1), 2, 3),
            (date(2026, 11, 2), 2, 2),
            (date(2026, 11, 3), 1, 1),
            (date(2026, 11, 4), 1, 1),
        ],
        "event_date date, dau bigint, events bigint",
    )
    actual = daily_active_users(events_frame(spark, ACTIVITY))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


RETENTION_DDL = (
    "cohort_date date, day_n int, cohort_size bigint, active_users bigint, retention double"
)


def test_retention_has_every_day_of_every_cohort_with_zero_for_absent_days(spark):
    nov = lambda day: date(2026, 11, day)  # noqa: E731
    expected = spark.createDataFrame(
        [
            (nov(1), 0, 2, 2, 1.0),
            (nov(1), 1, 2, 1, 0.5),
            (nov(1), 2, 2, 0, 0.0),
            (nov(1), 3, 2, 1, 0.5),
            (nov(2), 0, 1, 1, 1.0),
            (nov(2), 1, 1, 1, 1.0),
            (nov(2), 2, 1, 0, 0.0),
            (nov(2), 3, 1, 0, 0.0),
        ],
        RETENTION_DDL,
    )
    events = events_frame(spark, ACTIVITY)
    assert_df_equality(retention(events, 3), expected, ignore_row_order=True, ignore_nullable=True)
    only_second = retention(events, 3, cohorts=[nov(2)])
    assert_df_equality(
        only_second,
        expected.where("cohort_date = '2026-11-02'"),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_late_event_touches_the_users_new_and_old_cohorts(spark):
    events = events_frame(
        spark,
        [
            ("A", "2026-11-05", "2026-11-05"),
            ("A", "2026-11-03", "2026-11-06"),  # late: A moves from cohort 11-05 to 11-03
            ("B", "2026-11-06", "2026-11-06"),  # new user
            ("C", "2026-11-01", "2026-11-01"),  # not in the delivery
        ],
    )
    touched = {r.cohort_date for r in touched_cohorts(events, date(2026, 11, 6)).collect()}
    assert touched == {date(2026, 11, 3), date(2026, 11, 5), date(2026, 11, 6)}
