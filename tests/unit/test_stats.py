"""lakejobs.stats: the normal tail and the two-proportion z-test as Spark columns, vs scipy."""

from __future__ import annotations

import numpy as np
from pyspark.sql import functions as F
from scipy import stats as sp

from lakejobs.stats import normal_cdf, normal_sf, two_proportion_z, two_sided_p_value

# Dense near 0, both switch-over points of the approximation, deep tails, and symmetry.
POINTS = sorted(
    {
        *np.round(np.linspace(-8.0, 8.0, 321), 6).tolist(),
        -40.0,
        -37.5,
        -7.0710678,
        -1e-9,
        0.0,
        1e-9,
        7.0710678,
        7.0710679,
        12.3,
        36.9,
        37.1,
        40.0,
    }
)


def test_normal_tail_and_cdf_match_scipy_to_1e_7_everywhere(spark):
    df = spark.createDataFrame([(x,) for x in POINTS], "x double")
    rows = df.select("x", normal_sf(F.col("x")).alias("sf"), normal_cdf(F.col("x")).alias("cdf"))
    for row in rows.collect():
        assert abs(row["sf"] - sp.norm.sf(row["x"])) < 1e-7, row
        assert abs(row["cdf"] - sp.norm.cdf(row["x"])) < 1e-7, row


def test_small_tails_keep_their_relative_precision(spark):
    df = spark.createDataFrame([(x,) for x in (3.0, 5.0, 8.0, 12.0, 20.0)], "x double")
    for row in df.select("x", normal_sf(F.col("x")).alias("sf")).collect():
        assert abs(row["sf"] / sp.norm.sf(row["x"]) - 1) < 1e-7, row


def test_two_proportion_z_test_matches_the_textbook_formula_with_scipy(spark):
    cases = [
        (120, 10_000, 100, 10_000),
        (100, 10_000, 120, 10_000),
        (5, 40, 1, 35),
        (300, 12_345, 310, 12_000),
        (1, 1_000_000, 0, 999_999),
    ]
    df = spark.createDataFrame(cases, "x1 long, n1 long, x2 long, n2 long")
    z = two_proportion_z(F.col("x1"), F.col("n1"), F.col("x2"), F.col("n2"))
    result = df.select("*", z.alias("z"), two_sided_p_value(z).alias("p")).collect()
    for row in result:
        x1, n1, x2, n2 = row["x1"], row["n1"], row["x2"], row["n2"]
        pooled = (x1 + x2) / (n1 + n2)
        expected_z = (x1 / n1 - x2 / n2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        assert abs(row["z"] - expected_z) < 1e-9
        assert abs(row["p"] - 2 * sp.norm.sf(abs(expected_z))) < 1e-7


def test_no_trials_gives_null_and_zero_variance_gives_no_evidence(spark):
    df = spark.createDataFrame(
        [(0, 0, 3, 10), (0, 10, 0, 20), (10, 10, 5, 5)], "a long, b long, c long, d long"
    )
    z = two_proportion_z(F.col("a"), F.col("b"), F.col("c"), F.col("d"))
    rows = df.select(z.alias("z"), two_sided_p_value(z).alias("p")).collect()
    assert [(r["z"], r["p"]) for r in rows] == [(None, None), (0.0, 1.0), (0.0, 1.0)]
