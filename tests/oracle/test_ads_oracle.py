"""ads.campaign_roas_daily and ads.creative_ab_test transforms against an independent DuckDB SQL
implementation of the spec, on the same inputs built from three generated raw deliveries.

DuckDB prepares the curated-shaped inputs once (FB actions, micros, FX, deduplication); both sides
then compute from those identical tables. The oracle is plain SQL written from the spec text;
only the normal tail comes from scipy (DuckDB has no normal CDF).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from pyspark.sql import DataFrame, SparkSession
from scipy import stats as sp

from jobs.ads.generate import generate
from jobs.ads.transforms import campaign_roas, creative_ab_test, paid_in_usd

pytestmark = pytest.mark.oracle

DATES = (date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22))
AS_OF = DATES[-1]
FLOOR = 0.8
ALPHA = 0.05

PREPARE = """
CREATE TABLE fx AS
SELECT DISTINCT date::DATE AS date, currency, usd_rate::DECIMAL(18,8) AS usd_rate
FROM read_csv('{raw}/fx_rates/*/*.csv', all_varchar = true, header = true, delim = ',');

CREATE TABLE fb AS
SELECT * FROM read_json('{raw}/facebook_spend/*/*.jsonl', format = 'newline_delimited',
    ignore_errors = true, columns = {{date: 'VARCHAR', campaign_id: 'VARCHAR',
    campaign_name: 'VARCHAR', adset_id: 'VARCHAR', creative_id: 'VARCHAR', spend: 'VARCHAR',
    impressions: 'VARCHAR', clicks: 'VARCHAR', account_currency: 'VARCHAR',
    actions: 'STRUCT(action_type VARCHAR, value VARCHAR)[]'}})
WHERE campaign_id IS NOT NULL;

CREATE TABLE gg AS
SELECT * FROM read_csv('{raw}/google_spend/*/*.csv', all_varchar = true, header = true, delim = ',', null_padding = true)
WHERE currency IS NOT NULL;

CREATE TABLE spend_daily AS
WITH unified AS (
    SELECT DISTINCT date::DATE AS date, 'facebook' AS media_source, campaign_id, campaign_name,
        adset_id AS ad_group_id, creative_id, account_currency AS currency,
        spend::DECIMAL(18,6) AS spend, impressions::BIGINT AS impressions,
        clicks::BIGINT AS clicks,
        coalesce(list_filter(actions, lambda a: a.action_type = 'mobile_app_install')[1].value,
                 '0')::BIGINT AS installs
    FROM fb
    UNION ALL
    SELECT DISTINCT day::DATE, 'google', campaign_id, campaign_name, ad_group_id, ad_id,
        currency, (cost_micros::DECIMAL(20,0) / 1000000)::DECIMAL(18,6), impressions::BIGINT,
        clicks::BIGINT, conversions::BIGINT
    FROM gg
)
SELECT u.*, round(u.spend * fx.usd_rate, 6)::DECIMAL(18,6) AS spend_usd
FROM unified u JOIN fx USING (date, currency);

CREATE TABLE installs AS
SELECT DISTINCT user_id, install_time::TIMESTAMP AS install_time, media_source, campaign_id
FROM read_csv('{raw}/installs/*/*.csv', all_varchar = true, header = true, delim = ',', null_padding = true)
WHERE campaign_id IS NOT NULL;

CREATE TABLE payments AS
SELECT DISTINCT payment_id, user_id, amount::DECIMAL(18,2) AS amount, currency, status,
    paid_at::TIMESTAMP AS paid_at
FROM read_csv('{raw}/payments/ingest_date={as_of}/*.csv', all_varchar = true, header = true, delim = ',',
    null_padding = true)
WHERE paid_at IS NOT NULL;
"""

ROAS = """
WITH paid AS (
    SELECT p.user_id, p.paid_at, round(p.amount * fx.usd_rate, 6) AS revenue
    FROM payments p LEFT JOIN fx ON fx.date = p.paid_at::DATE AND fx.currency = p.currency
    WHERE p.status = 'paid'
), per_user AS (
    SELECT i.install_time::DATE AS date, i.media_source, i.campaign_id, i.user_id,
        sum(p.revenue) AS revenue,
        count(*) FILTER (WHERE p.paid_at IS NOT NULL AND p.revenue IS NULL) AS unpriced
    FROM installs i LEFT JOIN paid p ON p.user_id = i.user_id
        AND p.paid_at >= i.install_time AND p.paid_at < i.install_time + INTERVAL 7 DAY
    GROUP BY ALL
), cohorts AS (
    SELECT date, media_source, campaign_id, count(*) AS installs,
        coalesce(sum(revenue), 0) AS d7_revenue_usd, sum(unpriced) AS d7_unpriced_payments
    FROM per_user GROUP BY ALL
), spend AS (
    SELECT date, media_source, campaign_id, max(campaign_name) AS campaign_name,
        sum(spend_usd) AS spend_usd, sum(impressions) AS impressions, sum(clicks) AS clicks,
        sum(installs) AS reported_installs, count(*) AS spend_rows
    FROM spend_daily GROUP BY ALL
)
SELECT date, media_source, campaign_id, s.campaign_name, s.spend_usd, s.impressions, s.clicks,
    s.clicks / nullif(s.impressions, 0) AS ctr, s.reported_installs,
    coalesce(c.installs, 0) AS installs,
    s.spend_usd / nullif(c.installs, 0) AS cpi,
    coalesce(c.d7_revenue_usd, 0) AS d7_revenue_usd,
    coalesce(c.d7_unpriced_payments, 0) AS d7_unpriced_payments,
    coalesce(c.d7_revenue_usd, 0) / nullif(s.spend_usd, 0) AS roas,
    coalesce(c.d7_revenue_usd, 0) / nullif(s.spend_usd, 0) < {floor} AS below_floor,
    date + 8 <= DATE '{as_of}' AS d7_complete,
    coalesce(s.spend_rows, 0) AS spend_rows
FROM spend s FULL JOIN cohorts c USING (date, media_source, campaign_id)
ORDER BY ALL
"""

AB_TEST = """
WITH variants AS (
    SELECT media_source, campaign_id, creative_id, sum(impressions) AS n, sum(clicks) AS x,
        creative_id LIKE '%-A' AS is_control
    FROM spend_daily GROUP BY ALL
), tested AS (
    SELECT v.*, c.creative_id AS control_creative_id,
        CASE WHEN NOT v.is_control THEN
            (v.x / v.n - c.x / c.n) / sqrt(((v.x + c.x) / (v.n + c.n))
                * (1 - (v.x + c.x) / (v.n + c.n)) * (1 / v.n + 1 / c.n))
        END AS z
    FROM variants v LEFT JOIN variants c
        ON c.media_source = v.media_source AND c.campaign_id = v.campaign_id AND c.is_control
)
SELECT media_source, campaign_id, creative_id, is_control, n AS impressions, x AS clicks,
    x / n AS ctr, control_creative_id, z
FROM tested ORDER BY ALL
"""


def spark_frame(spark: SparkSession, con: duckdb.DuckDBPyConnection, name: str) -> DataFrame:
    relation = con.table(name)
    types = {
        "VARCHAR": "string",
        "DATE": "date",
        "TIMESTAMP": "timestamp",
        "BIGINT": "bigint",
    }
    schema = ", ".join(
        f"{column} {types.get(str(kind), str(kind).lower())}"
        for column, kind in zip(relation.columns, relation.types, strict=True)
    )
    return spark.createDataFrame(relation.fetchall(), schema)


@pytest.fixture(scope="module")
def inputs(spark, tmp_path_factory) -> tuple[duckdb.DuckDBPyConnection, dict[str, DataFrame]]:
    lake: Path = tmp_path_factory.mktemp("ads-oracle")
    for day in DATES:
        generate(lake, day, rows=800, seed=11)
    con = duckdb.connect()
    con.execute(PREPARE.format(raw=lake / "raw", as_of=AS_OF.isoformat()))
    frames = {
        name: spark_frame(spark, con, name)
        for name in ("fx", "spend_daily", "installs", "payments")
    }
    return con, frames


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return float(a) == pytest.approx(float(b), rel=1e-12, abs=1e-12)


def test_campaign_roas_matches_the_duckdb_oracle(inputs):
    con, frames = inputs
    expected = con.execute(ROAS.format(floor=FLOOR, as_of=AS_OF.isoformat())).fetchall()
    columns = [d[0] for d in con.description]
    actual = campaign_roas(
        frames["spend_daily"],
        frames["installs"],
        paid_in_usd(frames["payments"], frames["fx"]),
        FLOOR,
        AS_OF,
    )
    got = sorted(tuple(r) for r in actual.select(*columns).collect())
    assert len(got) == len(expected) >= 12
    assert {r[columns.index("below_floor")] for r in expected} == {True, False}
    assert sum(r[columns.index("d7_revenue_usd")] for r in expected) > 0
    for mine, theirs in zip(got, expected, strict=True):
        for column, a, b in zip(columns, mine, theirs, strict=True):
            assert close(a, b) if column in ("ctr", "cpi", "roas") else a == b, (
                column,
                mine,
                theirs,
            )


def test_creative_ab_test_matches_the_duckdb_oracle_with_scipy_p_values(inputs):
    con, frames = inputs
    expected = con.execute(AB_TEST).fetchall()
    columns = [d[0] for d in con.description]
    actual = {r["creative_id"]: r for r in creative_ab_test(frames["spend_daily"], ALPHA).collect()}
    assert len(actual) == len(expected) >= 10
    verdicts = set()
    for row in expected:
        oracle = dict(zip(columns, row, strict=True))
        mine = actual[oracle["creative_id"]]
        for column in ("media_source", "campaign_id", "is_control", "impressions", "clicks"):
            assert mine[column] == oracle[column]
        assert mine["control_creative_id"] == oracle["control_creative_id"]
        assert close(mine["ctr"], oracle["ctr"]) and close(mine["z"], oracle["z"])
        if oracle["z"] is None:
            assert mine["p_value"] is None
            continue
        p = 2 * sp.norm.sf(abs(oracle["z"]))
        assert abs(mine["p_value"] - p) < 1e-7
        verdict = "inconclusive" if p >= ALPHA else ("better" if oracle["z"] > 0 else "worse")
        assert mine["verdict"] == verdict
        verdicts.add(verdict)
    assert {"better", "inconclusive"} <= verdicts  # the generated data has real differences
