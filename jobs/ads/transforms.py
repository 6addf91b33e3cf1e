"""Pure DataFrame transforms of the ads domain: no reads, writes or sessions, so each is unit-tested
on a few rows. The job modules next to this one only read, call these, validate and write.

Money stays decimal end to end (spend, rates, revenue), so sums are exact and a re-run gives the
same bytes whatever order Spark adds rows in.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType
from pyspark.sql.window import Window

from lakejobs.contracts import RawSource
from lakejobs.lake import MALFORMED, RAW_RECORD, SOURCE_FILE
from lakejobs.quality import QUARANTINED, REASONS, load_suite, validate_rows
from lakejobs.stats import two_proportion_z, two_sided_p_value

MONEY = "decimal(18,6)"
RATE = "decimal(18,8)"
INSTALL_ACTION = "mobile_app_install"
ACTIONS_TYPE = ArrayType(
    StructType([StructField("action_type", StringType()), StructField("value", StringType())])
)
UNKNOWN_CURRENCY = "unknown_currency:currency"
D7_DAYS = 7
CONTROL_SUFFIX = "-A"
DEFAULT_ROAS_FLOOR = 1.0
DEFAULT_SIGNIFICANCE = 0.05
BOOKKEEPING = (SOURCE_FILE, RAW_RECORD, MALFORMED, REASONS, QUARANTINED)


# --- spend: two media, one vocabulary -----------------------------------------------------


def facebook_read_schema(source: RawSource) -> StructType:
    """What to read from Facebook lines: every scalar as text (typed later), plus `actions`."""
    scalars = [StructField(name, StringType()) for name in source.names if name != "installs"]
    return StructType([*scalars, StructField("actions", ACTIONS_TYPE)])


def facebook_installs(actions: Column) -> Column:
    """Installs hide in `actions`: the value of the `mobile_app_install` entry, "0" if none."""
    install = F.filter(actions, lambda action: action["action_type"] == INSTALL_ACTION)
    return F.coalesce(F.try_element_at(install, F.lit(1))["value"], F.lit("0"))


def facebook_staged(raw: DataFrame, source: RawSource) -> DataFrame:
    """Raw Facebook lines as the string columns of the facebook_spend contract + bookkeeping."""
    scalars = [name for name in source.names if name != "installs"]
    return raw.select(
        *scalars,
        facebook_installs(F.col("actions")).alias("installs"),
        SOURCE_FILE,
        RAW_RECORD,
        MALFORMED,
    )


def facebook_rows(raw: DataFrame, source: RawSource) -> DataFrame:
    """Raw Facebook lines validated by their own suite, in the common spend vocabulary."""
    validated = validate_rows(
        facebook_staged(raw, source), source, load_suite("ads.spend_daily.facebook")
    )
    return facebook_spend_rows(validated)


def google_rows(raw: DataFrame, source: RawSource) -> DataFrame:
    """Raw Google lines validated by their own suite, in the common spend vocabulary."""
    return google_spend_rows(validate_rows(raw, source, load_suite("ads.spend_daily.google")))


def micros_to_units(micros: Column) -> Column:
    """Google's cost in micros (x 1e6) as an exact decimal amount."""
    return (micros.cast("decimal(20,0)") / F.lit(1_000_000)).cast(MONEY)


def facebook_spend_rows(validated: DataFrame) -> DataFrame:
    """Validated Facebook lines in the common spend vocabulary (bookkeeping kept)."""
    return validated.select(
        F.col("date"),
        F.lit("facebook").alias("media_source"),
        "campaign_id",
        "campaign_name",
        F.col("adset_id").alias("ad_group_id"),
        "creative_id",
        F.col("account_currency").alias("currency"),
        F.col("spend").cast(MONEY).alias("spend"),
        "impressions",
        "clicks",
        F.coalesce("installs", F.lit(0)).alias("installs"),
        *BOOKKEEPING,
    )


def google_spend_rows(validated: DataFrame) -> DataFrame:
    """Validated Google lines in the common spend vocabulary (bookkeeping kept)."""
    return validated.select(
        F.col("day").alias("date"),
        F.lit("google").alias("media_source"),
        "campaign_id",
        "campaign_name",
        "ad_group_id",
        F.col("ad_id").alias("creative_id"),
        "currency",
        micros_to_units(F.col("cost_micros")).alias("spend"),
        "impressions",
        "clicks",
        F.col("conversions").alias("installs"),
        *BOOKKEEPING,
    )


def add_reason(df: DataFrame, reason: str, broken: Column) -> DataFrame:
    """Append `reason` to the rows where `broken` holds (never to malformed lines)."""
    reasons = F.when(
        ~F.col(MALFORMED) & F.coalesce(broken, F.lit(False)),
        F.array_append(F.col(REASONS), F.lit(reason)),
    ).otherwise(F.col(REASONS))
    return df.withColumn(REASONS, reasons).withColumn(
        QUARANTINED, (F.size(REASONS) > 0).cast("int")
    )


def rates_on(
    fx: DataFrame, date_column: Column, currency_column: Column
) -> tuple[DataFrame, Column]:
    """The FX table renamed for a lookup join, with the join condition on (date, currency)."""
    rates = fx.select(
        F.col("date").alias("_fx_date"),
        F.col("currency").alias("_fx_currency"),
        F.col("usd_rate").cast(RATE).alias("usd_rate"),
    )
    on = (date_column == F.col("_fx_date")) & (currency_column == F.col("_fx_currency"))
    return F.broadcast(rates), on


def spend_in_usd(rows: DataFrame, fx: DataFrame) -> DataFrame:
    """Add `usd_rate` and `spend_usd` at the rate of the row's date; no rate means quarantine.

    An unknown currency is a data problem, not a reason to assume a rate of 1: the row gets the
    reason `unknown_currency:currency` and goes to the quarantine with its raw line.
    """
    rates, on = rates_on(fx, F.col("date"), F.col("currency"))
    joined = rows.join(rates, on, "left").drop("_fx_date", "_fx_currency")
    no_rate = F.col("date").isNotNull() & F.col("currency").isNotNull() & F.col("usd_rate").isNull()
    return add_reason(joined, UNKNOWN_CURRENCY, no_rate).withColumn(
        "spend_usd", F.round(F.col("spend") * F.col("usd_rate"), 6).cast(MONEY)
    )


# --- campaign ROAS --------------------------------------------------------------------------


def paid_in_usd(payments: DataFrame, fx: DataFrame) -> DataFrame:
    """Paid payments (refunded and failed ones never count) in USD at the rate of their day;
    `revenue_usd` is null when that day has no rate for the currency."""
    paid = payments.where(F.col("status") == "paid")
    rates, on = rates_on(fx, F.to_date("paid_at"), F.col("currency"))
    return paid.join(rates, on, "left").select(
        "user_id",
        "paid_at",
        F.round(F.col("amount") * F.col("usd_rate"), 6).cast(MONEY).alias("revenue_usd"),
    )


def cohort_revenue(installs: DataFrame, paid_usd: DataFrame) -> DataFrame:
    """D7 revenue per install date and campaign: payments at or after the user's install time
    and strictly before install time + 7 days."""
    p = paid_usd.alias("p")
    i = installs.alias("i")
    in_window = (
        (F.col("i.user_id") == F.col("p.user_id"))
        & (F.col("p.paid_at") >= F.col("i.install_time"))
        & (F.col("p.paid_at") < F.col("i.install_time") + F.expr(f"INTERVAL {D7_DAYS} DAYS"))
    )
    per_user = (
        i.join(p, in_window, "left")
        .groupBy(
            F.to_date("i.install_time").alias("date"),
            F.col("i.media_source").alias("media_source"),
            F.col("i.campaign_id").alias("campaign_id"),
            F.col("i.user_id").alias("user_id"),
        )
        .agg(
            F.sum("p.revenue_usd").alias("revenue"),
            F.count(
                F.when(F.col("p.paid_at").isNotNull() & F.col("p.revenue_usd").isNull(), 1)
            ).alias("unpriced"),
        )
    )
    return per_user.groupBy("date", "media_source", "campaign_id").agg(
        F.count(F.lit(1)).alias("installs"),
        F.coalesce(F.sum("revenue"), F.lit(0)).cast(MONEY).alias("d7_revenue_usd"),
        F.sum("unpriced").alias("d7_unpriced_payments"),
    )


def spend_by_campaign(spend: DataFrame) -> DataFrame:
    """ads.spend_daily rows summed per date, media source and campaign."""
    return spend.groupBy("date", "media_source", "campaign_id").agg(
        F.max("campaign_name").alias("campaign_name"),
        F.sum("spend_usd").cast(MONEY).alias("spend_usd"),
        F.sum("impressions").alias("impressions"),
        F.sum("clicks").alias("clicks"),
        F.sum("installs").alias("reported_installs"),
        F.count(F.lit(1)).alias("spend_rows"),
    )


def _ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator as a double; null when the denominator is null or 0."""
    return F.when(denominator > 0, numerator.cast("double") / denominator.cast("double"))


def campaign_roas(
    spend: DataFrame,
    installs: DataFrame,
    paid_usd: DataFrame,
    roas_floor: float,
    as_of: date,
) -> DataFrame:
    """One row per date, media source and campaign seen in spend or in the install cohorts.

    `as_of` is the payments snapshot date: a cohort's D7 window is complete when it ended
    before it (install date + 8 days <= as_of).
    """
    keys = ["date", "media_source", "campaign_id"]
    joined = spend_by_campaign(spend).join(cohort_revenue(installs, paid_usd), keys, "full")
    revenue = F.coalesce("d7_revenue_usd", F.lit(0).cast(MONEY))
    roas = _ratio(revenue, F.col("spend_usd"))
    return joined.select(
        *keys,
        "campaign_name",
        "spend_usd",
        "impressions",
        "clicks",
        _ratio(F.col("clicks"), F.col("impressions")).alias("ctr"),
        "reported_installs",
        F.coalesce("installs", F.lit(0)).alias("installs"),
        _ratio(F.col("spend_usd"), F.col("installs")).alias("cpi"),
        revenue.alias("d7_revenue_usd"),
        F.coalesce("d7_unpriced_payments", F.lit(0)).alias("d7_unpriced_payments"),
        roas.alias("roas"),
        F.lit(roas_floor).alias("roas_floor"),
        (roas < F.lit(roas_floor)).alias("below_floor"),
        (F.date_add("date", D7_DAYS + 1) <= F.lit(as_of)).alias("d7_complete"),
        F.coalesce("spend_rows", F.lit(0)).alias("spend_rows"),
    )


def refresh_dates(
    spend: DataFrame, installs: DataFrame, payments: DataFrame, run_date: date
) -> DataFrame:
    """Dates whose ROAS may have changed with the deliveries of `run_date`: spend and install
    dates delivered, and install dates of the users in the payments snapshot delivered."""
    delivered = F.col("ingest_date") == F.lit(run_date)
    payers = payments.where(delivered).select("user_id").distinct()
    install_date = F.to_date("install_time").alias("date")
    return (
        spend.where(delivered)
        .select("date")
        .union(installs.where(delivered).select(install_date))
        .union(installs.join(payers, "user_id").select(install_date))
        .distinct()
    )


def d7_window(run_date: date) -> set[date]:
    """The install dates whose D7 window closes with `run_date` or is still open: recomputed
    every run, since their `d7_complete` flag turns with the run date."""
    return {run_date - timedelta(days=k) for k in range(1, D7_DAYS + 2)}


# --- creative A/B test ------------------------------------------------------------------------


def creative_ab_test(spend: DataFrame, significance: float) -> DataFrame:
    """CTR per creative variant over the given spend rows, tested against the campaign's control.

    The control is the creative whose id ends in `-A`. A variant is `better`/`worse` when the
    two-sided two-proportion z-test gives p < significance, else `inconclusive`. The winner is
    the best `better` variant (highest CTR, then lowest id); when there is none and every other
    variant is `worse`, the control wins; otherwise the test has no winner yet.
    """
    campaign = ["media_source", "campaign_id"]
    variants = (
        spend.groupBy(*campaign, "creative_id")
        .agg(
            F.max("campaign_name").alias("campaign_name"),
            F.min("date").alias("first_date"),
            F.max("date").alias("last_date"),
            F.sum("impressions").alias("impressions"),
            F.sum("clicks").alias("clicks"),
            F.count(F.lit(1)).alias("spend_rows"),
        )
        .withColumn("is_control", F.col("creative_id").endswith(CONTROL_SUFFIX))
        .withColumn("ctr", _ratio(F.col("clicks"), F.col("impressions")))
    )
    control = variants.where("is_control").select(
        *campaign,
        F.col("creative_id").alias("control_creative_id"),
        F.col("impressions").alias("control_impressions"),
        F.col("clicks").alias("control_clicks"),
        F.col("ctr").alias("control_ctr"),
    )
    z = two_proportion_z(
        F.col("clicks"), F.col("impressions"), F.col("control_clicks"), F.col("control_impressions")
    )
    tested = (
        variants.join(control, campaign, "left")
        .withColumn("z", F.when(~F.col("is_control"), z))
        .withColumn("p_value", two_sided_p_value(F.col("z")))
    )
    significant = F.col("p_value") < F.lit(significance)
    verdict = (
        F.when(F.col("is_control"), F.lit("control"))
        .when(F.col("control_creative_id").isNull(), F.lit("no_control"))
        .when(significant & (F.col("z") > 0), F.lit("better"))
        .when(significant & (F.col("z") < 0), F.lit("worse"))
        .otherwise(F.lit("inconclusive"))
    )
    by_campaign = Window.partitionBy(*campaign)
    rank = Window.partitionBy(*campaign, F.col("verdict") == "better").orderBy(
        F.col("ctr").desc(), F.col("creative_id")
    )
    others = F.count(F.when(~F.col("is_control"), 1)).over(by_campaign)
    worse = F.count(F.when(F.col("verdict") == "worse", 1)).over(by_campaign)
    better = F.count(F.when(F.col("verdict") == "better", 1)).over(by_campaign)
    winner = ((F.col("verdict") == "better") & (F.row_number().over(rank) == 1)) | (
        F.col("is_control") & (better == 0) & (others > 0) & (worse == others)
    )
    return (
        tested.withColumn("verdict", verdict)
        .withColumn("winner", winner)
        .select(
            *campaign,
            "campaign_name",
            "creative_id",
            "is_control",
            "first_date",
            "last_date",
            "impressions",
            "clicks",
            "ctr",
            "control_creative_id",
            "control_ctr",
            "z",
            "p_value",
            F.lit(significance).alias("significance"),
            "verdict",
            "winner",
            "spend_rows",
        )
    )
