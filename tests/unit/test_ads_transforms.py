"""Pure ads transforms on a few rows: Facebook actions, Google micros, FX with quarantine,
the D7 cohort window, ROAS ratios and the creative A/B test."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from scipy import stats as sp

from jobs.ads.creative_ab_test import SIGNIFICANCE
from jobs.ads.transforms import (
    UNKNOWN_CURRENCY,
    campaign_roas,
    cohort_revenue,
    creative_ab_test,
    facebook_installs,
    facebook_spend_rows,
    facebook_staged,
    micros_to_units,
    paid_in_usd,
    spend_in_usd,
)
from lakejobs.contracts import raw_source
from lakejobs.errors import UsageError
from lakejobs.job import Param
from lakejobs.quality import load_suite, validate_rows

D = date(2026, 11, 19)
ACTIONS = "array<struct<action_type:string,value:string>>"
FX_SCHEMA = "date date, currency string, usd_rate decimal(18,8)"


def test_facebook_installs_are_the_mobile_app_install_action_value(spark):
    rows = [
        (1, [("link_click", "40"), ("mobile_app_install", "3"), ("video_view", "9")]),
        (2, [("link_click", "40")]),
        (3, []),
        (4, None),
    ]
    df = spark.createDataFrame(rows, f"id int, actions {ACTIONS}")
    actual = df.select("id", facebook_installs(F.col("actions")).alias("installs"))
    expected = spark.createDataFrame(
        [(1, "3"), (2, "0"), (3, "0"), (4, "0")], "id int, installs string"
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def facebook_raw(spark, spend: str, currency: str = "EUR", actions=(("mobile_app_install", "2"),)):
    source = raw_source("facebook_spend")
    values = {
        "date": D.isoformat(),
        "campaign_id": "c1",
        "campaign_name": "Camp",
        "adset_id": "g1",
        "ad_id": "ad1",
        "creative_id": "c1-A",
        "spend": spend,
        "impressions": "1000",
        "clicks": "10",
        "account_currency": currency,
    }
    names = [n for n in source.names if n != "installs"]
    schema = ", ".join(f"{n} string" for n in names)
    return spark.createDataFrame(
        [(*[values[n] for n in names], list(actions), "f.jsonl", "{...}", False)],
        f"{schema}, actions {ACTIONS}, _source_file string, _raw_record string, _malformed boolean",
    )


def facebook_rows(spark, raw):
    source = raw_source("facebook_spend")
    validated = validate_rows(
        facebook_staged(raw, source), source, load_suite("ads.spend_daily.facebook")
    )
    return facebook_spend_rows(validated)


def test_facebook_spend_string_becomes_an_exact_decimal_in_the_common_vocabulary(spark):
    row = facebook_rows(spark, facebook_raw(spark, "12.34")).first()
    assert row["_reasons"] == []
    assert (row["media_source"], row["ad_group_id"], row["currency"]) == ("facebook", "g1", "EUR")
    assert (row["spend"], row["installs"], row["impressions"]) == (Decimal("12.340000"), 2, 1000)


def test_facebook_spend_that_is_not_a_number_is_quarantined(spark):
    row = facebook_rows(spark, facebook_raw(spark, "12,34")).first()
    assert row["_reasons"] == ["bad_type:spend"]


def test_google_cost_micros_become_exact_amounts(spark):
    df = spark.createDataFrame([(12_345_678,), (1,), (987_654_321_000_000,), (None,)], "m long")
    actual = [r[0] for r in df.select(micros_to_units(F.col("m"))).collect()]
    assert actual == [
        Decimal("12.345678"),
        Decimal("0.000001"),
        Decimal("987654321.000000"),
        None,
    ]


def spend_rows(spark, rows):
    return spark.createDataFrame(
        [(*r, "f", "raw", False, [], 0) for r in rows],
        "date date, currency string, spend decimal(18,6), _source_file string, "
        "_raw_record string, _malformed boolean, _reasons array<string>, _quarantined int",
    )


def test_spend_is_converted_at_the_rate_of_its_date_and_unknown_currencies_are_quarantined(spark):
    fx = spark.createDataFrame(
        [
            (D, "USD", Decimal("1")),
            (D, "EUR", Decimal("1.08123456")),
            (date(2026, 11, 18), "JPY", Decimal("0.0066")),  # JPY has a rate, not on D
        ],
        FX_SCHEMA,
    )
    rows = spend_rows(
        spark,
        [
            (D, "USD", Decimal("10")),
            (D, "EUR", Decimal("100.5")),
            (D, "ARS", Decimal("5000")),
            (D, "JPY", Decimal("1000")),
        ],
    )
    actual = spend_in_usd(rows, fx).select(
        "currency", "usd_rate", "spend_usd", "_reasons", "_quarantined"
    )
    expected = spark.createDataFrame(
        [
            ("USD", Decimal("1"), Decimal("10"), [], 0),
            ("EUR", Decimal("1.08123456"), Decimal("108.664073"), [], 0),
            ("ARS", None, None, [UNKNOWN_CURRENCY], 1),
            ("JPY", None, None, [UNKNOWN_CURRENCY], 1),
        ],
        "currency string, usd_rate decimal(18,8), spend_usd decimal(18,6), "
        "_reasons array<string>, _quarantined int",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_malformed_line_keeps_its_single_reason(spark):
    rows = spark.createDataFrame(
        [(None, None, None, "f", "{oops", True, ["malformed"], 1)],
        "date date, currency string, spend decimal(18,6), _source_file string, "
        "_raw_record string, _malformed boolean, _reasons array<string>, _quarantined int",
    )
    fx = spark.createDataFrame([(D, "USD", Decimal("1"))], FX_SCHEMA)
    assert spend_in_usd(rows, fx).first()["_reasons"] == ["malformed"]


INSTALL = datetime(2026, 11, 19, 10, 0, 0)


def installs_df(spark, rows):
    return spark.createDataFrame(
        rows, "user_id string, install_time timestamp, media_source string, campaign_id string"
    )


def payments_df(spark, rows):
    return spark.createDataFrame(
        rows,
        "payment_id string, user_id string, amount decimal(18,2), currency string, status string, paid_at timestamp",
    )


def usd_fx(spark):
    days = [date(2026, 11, d) for d in range(17, 30)]
    return spark.createDataFrame(
        [(d, c, Decimal(r)) for d in days for c, r in (("USD", "1"), ("EUR", "1.1"))], FX_SCHEMA
    )


def test_d7_window_includes_the_install_instant_and_excludes_exactly_seven_days_later(spark):
    installs = installs_df(spark, [("u1", INSTALL, "facebook", "c1")])
    payments = payments_df(
        spark,
        [
            ("p0", "u1", Decimal("1.00"), "USD", "paid", datetime(2026, 11, 19, 9, 59, 59)),
            ("p1", "u1", Decimal("2.00"), "USD", "paid", INSTALL),
            ("p2", "u1", Decimal("4.00"), "USD", "paid", datetime(2026, 11, 26, 9, 59, 59)),
            ("p3", "u1", Decimal("8.00"), "USD", "paid", datetime(2026, 11, 26, 10, 0, 0)),
            ("p4", "u2", Decimal("16.00"), "USD", "paid", INSTALL),  # another user
        ],
    )
    actual = cohort_revenue(installs, paid_in_usd(payments, usd_fx(spark)))
    expected = spark.createDataFrame(
        [(D, "facebook", "c1", 1, Decimal("6"), 0)],
        "date date, media_source string, campaign_id string, installs long, "
        "d7_revenue_usd decimal(18,6), d7_unpriced_payments long",
    )
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_refunded_and_failed_payments_do_not_count_and_unpriced_ones_are_reported(spark):
    installs = installs_df(
        spark,
        [
            ("u1", INSTALL, "google", "c2"),
            ("u2", INSTALL, "google", "c2"),
            ("u3", INSTALL, "google", "c2"),
        ],
    )
    at = datetime(2026, 11, 20, 12, 0, 0)
    payments = payments_df(
        spark,
        [
            ("p1", "u1", Decimal("10.00"), "EUR", "paid", at),
            ("p2", "u1", Decimal("50.00"), "EUR", "refunded", at),
            ("p3", "u2", Decimal("70.00"), "USD", "failed", at),
            ("p4", "u2", Decimal("900.00"), "ARS", "paid", at),
        ],
    )
    row = cohort_revenue(installs, paid_in_usd(payments, usd_fx(spark))).first()
    assert (row["installs"], row["d7_revenue_usd"], row["d7_unpriced_payments"]) == (
        3,
        Decimal("11.000000"),
        1,
    )


def test_campaign_roas_ratios_floor_and_completeness(spark):
    spend = spark.createDataFrame(
        [
            (D, "facebook", "c1", "Camp", Decimal("60"), 1000, 20, 3),
            (D, "facebook", "c1", "Camp", Decimal("40"), 3000, 20, 2),
            (D, "google", "c9", "NoInstalls", Decimal("10"), 0, 0, 0),
        ],
        "date date, media_source string, campaign_id string, campaign_name string, "
        "spend_usd decimal(18,6), impressions long, clicks long, installs long",
    )
    installs = installs_df(
        spark,
        [(f"u{i}", INSTALL, "facebook", "c1") for i in range(4)] + [("x", INSTALL, "google", "c5")],
    )
    payments = payments_df(
        spark, [("p1", "u1", Decimal("80.00"), "USD", "paid", datetime(2026, 11, 21))]
    )
    paid = paid_in_usd(payments, usd_fx(spark))
    rows = {
        r["campaign_id"]: r.asDict()
        for r in campaign_roas(spend, installs, paid, 1.0, date(2026, 11, 27)).collect()
    }
    assert rows["c1"] | {"roas_floor": 1.0} == {
        "date": D,
        "media_source": "facebook",
        "campaign_id": "c1",
        "campaign_name": "Camp",
        "spend_usd": Decimal("100.000000"),
        "impressions": 4000,
        "clicks": 40,
        "ctr": 0.01,
        "reported_installs": 5,
        "installs": 4,
        "cpi": 25.0,
        "d7_revenue_usd": Decimal("80.000000"),
        "d7_unpriced_payments": 0,
        "roas": 0.8,
        "roas_floor": 1.0,
        "below_floor": True,
        "d7_complete": True,
        "spend_rows": 2,
    }
    assert (rows["c9"]["ctr"], rows["c9"]["cpi"], rows["c9"]["roas"]) == (None, None, 0.0)
    assert (rows["c9"]["installs"], rows["c9"]["below_floor"]) == (0, True)
    assert (rows["c5"]["spend_usd"], rows["c5"]["roas"], rows["c5"]["below_floor"]) == (
        None,
        None,
        None,
    )
    assert rows["c5"]["spend_rows"] == 0 and rows["c5"]["installs"] == 1
    later = campaign_roas(spend, installs, paid, 0.5, date(2026, 11, 26)).where(
        "campaign_id = 'c1'"
    )
    assert later.select("below_floor", "d7_complete").first() == (False, False)


def test_ab_test_p_values_match_scipy_and_the_significant_best_variant_wins(spark):
    rows = [
        ("facebook", "c1", "c1-A", 20_000, 240, D),
        ("facebook", "c1", "c1-B", 20_000, 330, D),  # clearly better
        ("facebook", "c1", "c1-C", 20_000, 250, D),  # no real difference
        ("google", "g1", "g1-A", 10_000, 300, D),
        ("google", "g1", "g1-B", 10_000, 200, D),  # clearly worse: control wins
        ("google", "g2", "g2-B", 5_000, 50, D),  # no control variant
        ("google", "g2", "g2-C", 5_000, 60, D),
    ]
    spend = spark.createDataFrame(
        [(m, c, "name", cr, i, k, d) for m, c, cr, i, k, d in rows],
        "media_source string, campaign_id string, campaign_name string, creative_id string, "
        "impressions long, clicks long, date date",
    )
    result = {r["creative_id"]: r for r in creative_ab_test(spend, 0.05).collect()}
    clicks = {cr: (k, i) for _, _, cr, i, k, _ in rows}
    for variant, control in (("c1-B", "c1-A"), ("c1-C", "c1-A"), ("g1-B", "g1-A")):
        table = [[*clicks[variant]], [*clicks[control]]]
        (x1, n1), (x2, n2) = table
        pooled = (x1 + x2) / (n1 + n2)
        z = (x1 / n1 - x2 / n2) / (pooled * (1 - pooled) * (1 / n1 + 1 / n2)) ** 0.5
        assert result[variant]["z"] == pytest.approx(z, abs=1e-9)
        assert abs(result[variant]["p_value"] - 2 * sp.norm.sf(abs(z))) < 1e-7
    verdicts = {k: (r["verdict"], r["winner"]) for k, r in result.items()}
    assert verdicts == {
        "c1-A": ("control", False),
        "c1-B": ("better", True),
        "c1-C": ("inconclusive", False),
        "g1-A": ("control", True),
        "g1-B": ("worse", False),
        "g2-B": ("no_control", False),
        "g2-C": ("no_control", False),
    }
    assert result["c1-A"]["p_value"] is None and result["c1-B"]["control_ctr"] == 0.012
    strict = {r["creative_id"]: r["winner"] for r in creative_ab_test(spend, 1e-9).collect()}
    assert strict["c1-B"] is False and strict["g1-A"] is False


def test_parameters_are_checked_before_they_reach_sql():
    floor = Param("roas_floor", "float", "", default=1.0, low=0, high=10)
    assert floor.parse("1.5") == 1.5
    with pytest.raises(
        UsageError, match=r"^invalid roas_floor 'abc': expected a number from 0 to 10$"
    ):
        floor.parse("abc")
    with pytest.raises(UsageError, match="invalid significance"):
        SIGNIFICANCE.parse("nan")
