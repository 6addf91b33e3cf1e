"""Pure transforms of the events domain: DataFrames in, DataFrames out, no I/O.

Raw lines come in two schema versions; `canonical_events` maps both onto the canonical columns
of schemas/raw/events.json so one expectation suite checks them. Dates are UTC throughout and
are computed from epoch millis, so results never depend on the session time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakejobs.ingest import curated_rows
from lakejobs.pseudonym import hmac_sha256_hex

V1_FIELDS = ("event_id", "uid", "ts", "type")
V2_FIELDS = ("event_id", "user_id", "event_time", "event_type", "app_version", "props")
# Every JSON key of either version, read as text: typing happens in validation, with reasons.
RAW_JSON_SCHEMA = StructType(
    [StructField(name, StringType()) for name in dict.fromkeys((*V1_FIELDS, *V2_FIELDS))]
)
# ISO-8601 with a mandatory offset (Z or ±hh:mm), optional fraction of 1-9 digits.
ISO_WITH_OFFSET = "yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS]XXX"
UNPARSEABLE = "unparseable"
MILLIS_PER_DAY = 86_400_000


def _text(name: str) -> Column:
    return F.nullif(F.trim(F.col(name)), F.lit(""))


def canonical_events(raw: DataFrame) -> DataFrame:
    """v1 and v2 lines as the canonical text columns; bookkeeping (`_*`) columns kept.

    A line is v2 when it has any v2-only key. `event_time` becomes epoch millis as text: v1's
    `ts` as sent, v2's ISO time converted, or a marker that fails the bigint check when the ISO
    time does not parse (a time without offset is ambiguous, so it does not parse either).
    """
    v2 = F.coalesce(_text("user_id"), _text("event_time"), _text("event_type")).isNotNull()
    iso = F.try_to_timestamp(_text("event_time"), F.lit(ISO_WITH_OFFSET))
    v2_time = F.when(iso.isNotNull(), F.unix_millis(iso).cast("string")).when(
        _text("event_time").isNotNull(), F.lit(UNPARSEABLE)
    )
    return raw.select(
        F.col("event_id"),
        F.when(v2, F.col("user_id")).otherwise(F.col("uid")).alias("user_id"),
        F.when(v2, v2_time).otherwise(F.col("ts")).alias("event_time"),
        F.when(v2, F.col("event_type")).otherwise(F.col("type")).alias("event_type"),
        F.when(v2, F.col("app_version")).alias("app_version"),
        F.when(v2, F.col("props")).alias("props"),
        F.when(v2, F.lit("2")).otherwise(F.lit("1")).alias("schema_version"),
        *[c for c in raw.columns if c.startswith("_")],
    )


def curated_events(good: DataFrame, key: bytes, ingest_date: date, run_id: str) -> DataFrame:
    """Validated canonical rows as events.events rows: UTC time and date, pseudonymised user."""
    rows = curated_rows(good, ingest_date, run_id)
    millis = F.col("event_time")
    return rows.select(
        "event_id",
        F.timestamp_millis(millis).alias("event_time"),
        F.date_from_unix_date(F.floor(millis / MILLIS_PER_DAY).cast("int")).alias("event_date"),
        hmac_sha256_hex(F.col("user_id"), key).alias("user_key"),
        "event_type",
        "app_version",
        "props",
        "schema_version",
        "ingest_date",
        "source_file",
        "run_id",
    )


def daily_active_users(events: DataFrame) -> DataFrame:
    """Per event_date: distinct users (dau) and events."""
    return events.groupBy("event_date").agg(
        F.count_distinct("user_key").alias("dau"), F.count(F.lit(1)).alias("events")
    )


def touched_cohorts(events: DataFrame, ingest_date: date) -> DataFrame:
    """Cohorts whose retention rows the delivery of `ingest_date` may have changed.

    For every user with an event from that delivery: the cohort the user is in now, and the
    one the user was in without that delivery (a late event can move a user to an earlier
    cohort, which shrinks the old one).
    """
    delivered = F.col("ingest_date") == F.lit(ingest_date)
    users = events.where(delivered).select("user_key").distinct()
    per_user = (
        events.join(users, "user_key", "left_semi")
        .groupBy("user_key")
        .agg(
            F.min("event_date").alias("now"),
            F.min(F.when(~delivered, F.col("event_date"))).alias("before"),
        )
    )
    cohort = F.explode(F.array("now", "before")).alias("cohort_date")
    return per_user.select(cohort).where(F.col("cohort_date").isNotNull()).distinct()


def retention(events: DataFrame, max_day: int, cohorts: Sequence[date] | None = None) -> DataFrame:
    """Cohort x day_n (0..max_day): cohort size, users active that day, their share.

    A user's cohort is the first event_date seen for them. Every (cohort, day_n) row is present,
    with 0 active users when nobody came back that day. `cohorts` limits the output (and the
    work) to those cohort dates; cohort membership is still decided over all `events`.
    """
    firsts = events.groupBy("user_key").agg(F.min("event_date").alias("cohort_date"))
    if cohorts is not None:
        firsts = firsts.where(F.col("cohort_date").isin(list(cohorts)))
    sizes = firsts.groupBy("cohort_date").agg(F.count(F.lit(1)).alias("cohort_size"))
    day_n = F.datediff("event_date", "cohort_date")
    active = (
        events.select("user_key", "event_date")
        .distinct()
        .join(firsts, "user_key")
        .where(day_n <= max_day)
        .groupBy("cohort_date", day_n.alias("day_n"))
        .agg(F.count(F.lit(1)).alias("active_users"))
    )
    grid = sizes.select(
        "cohort_date", "cohort_size", F.explode(F.sequence(F.lit(0), F.lit(max_day))).alias("day_n")
    )
    active_users = F.coalesce(F.col("active_users"), F.lit(0)).cast("bigint")
    return grid.join(active, ["cohort_date", "day_n"], "left").select(
        "cohort_date",
        "day_n",
        "cohort_size",
        active_users.alias("active_users"),
        (active_users / F.col("cohort_size")).alias("retention"),
    )


def touched(
    events: DataFrame, before: DataFrame | None, ingest_date: date
) -> tuple[DataFrame, DataFrame]:
    """The event dates and the cohorts a delivery of `ingest_date` changed (`event_date`,
    `cohort_date`); with `before` (events as the last run read them), also those its earlier
    delivery touched, so what a re-delivery withdrew leaves the counts."""
    on_date = F.col("ingest_date") == F.lit(ingest_date)
    dates = events.where(on_date).select("event_date")
    cohorts = touched_cohorts(events, ingest_date)
    if before is not None:
        before = before.select("user_key", "event_date", "ingest_date")
        dates = dates.union(before.where(on_date).select("event_date"))
        cohorts = cohorts.union(touched_cohorts(before, ingest_date))
    return dates.distinct(), cohorts.distinct()


def activity_rows(
    events: DataFrame, dates: Sequence[date], cohorts: Sequence[date], max_day: int
) -> int:
    """The rows recomputing `dates` and `cohorts` gives: one per date still holding events,
    `max_day + 1` per cohort still holding users (a date or cohort whose only events a
    re-delivery withdrew has no rows any more)."""
    live_dates = events.where(F.col("event_date").isin(list(dates))).select("event_date")
    live_cohorts = retention(events, 0, cohorts).select("cohort_date")
    return live_dates.distinct().count() + live_cohorts.distinct().count() * (max_day + 1)
