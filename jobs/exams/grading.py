"""Exact relative grading from score histograms: rank, percentile, grade and standard score.

Grades are relative within (exam_id, subject). Sorting the rows of a group would shuffle and sort
every score, so everything is derived from a histogram of distinct scores instead: the cost grows
with the number of distinct scores per group, not with rows, and results stay exact for any score,
ties included. The histogram becomes a small lookup (one row per group and distinct score) that is
broadcast back to the rows. Null scores never reach this module (ingestion quarantines them), so
`score` is assumed non-null throughout.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from lakejobs.config import Settings
from lakejobs.contracts import schemas_dir
from lakejobs.errors import ConfigError, UsageError

GROUP_KEYS: tuple[str, ...] = ("exam_id", "subject")
MAX_GRADES = 9
DEFAULT_SCHEME = "csat9"
# Cut-offs up to 100 with at most six decimal places fit decimal(9, 6) exactly; counts fit
# decimal(20, 0), so `rank * 100 <= percent * n` is evaluated without any rounding.
_PERCENT_TYPE = DecimalType(9, 6)
_PERCENT_STEP = Decimal("0.000001")
_COUNT_TYPE = DecimalType(20, 0)
_SCHOOL_KEYS = (*GROUP_KEYS, "school_id")


def _percent(scheme: str, value: object) -> Decimal:
    """One cumulative percent as an exact Decimal, so cut-offs like 4.5 are compared exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise UsageError(f"grading scheme {scheme!r}: cumulative percent {value!r} is not a number")
    percent = Decimal(str(value))  # str() keeps a float's shortest form: 4.1, not 4.0999...
    if not (percent.is_finite() and 0 < percent <= 100):
        raise UsageError(
            f"grading scheme {scheme!r}: cumulative percent {value} is not in (0, 100]"
        )
    if percent != percent.quantize(_PERCENT_STEP):
        raise UsageError(
            f"grading scheme {scheme!r}: cumulative percent {value} has more than 6 decimal places"
        )
    return percent


@dataclass(frozen=True)
class GradingScheme:
    """Grade k goes to the rows with rank / n <= cumulative_percent[k - 1] / 100 (smallest such k).

    Validated on construction so that every row gets exactly one grade between 1 and MAX_GRADES.
    """

    name: str
    cumulative_percent: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        percents = tuple(_percent(self.name, value) for value in self.cumulative_percent)
        if not 1 <= len(percents) <= MAX_GRADES:
            raise UsageError(
                f"grading scheme {self.name!r}: needs 1 to {MAX_GRADES} cumulative percents, "
                f"got {len(percents)}"
            )
        for low, high in pairwise(percents):
            if high <= low:
                raise UsageError(
                    f"grading scheme {self.name!r}: cumulative percents must be strictly "
                    f"increasing, got {high} after {low}"
                )
        if percents[-1] != 100:
            raise UsageError(
                f"grading scheme {self.name!r}: the last cumulative percent must be 100, "
                f"got {percents[-1]}"
            )
        object.__setattr__(self, "cumulative_percent", percents)


def load_schemes(path: Path | None = None) -> dict[str, GradingScheme]:
    """Read the named schemes; a bad file fails here, naming it, before any Spark work starts."""
    path = path or schemas_dir() / "grading_schemes.json"
    try:
        # Decimal, not float: a cut-off such as 4.1 must keep its exact decimal value.
        raw = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except FileNotFoundError:
        raise ConfigError(f"grading schemes file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected an object of named grading schemes")
    schemes = {}
    for name, spec in raw.items():
        percents = spec.get("cumulative_percent") if isinstance(spec, dict) else None
        if not isinstance(percents, list):
            raise ConfigError(f"{path}: grading scheme {name!r} needs a cumulative_percent list")
        try:
            schemes[name] = GradingScheme(name, tuple(percents))
        except UsageError as exc:  # the message names the scheme and what is wrong
            raise ConfigError(f"{path}: {exc}") from None
    return schemes


def get_scheme(name: str, path: Path | None = None) -> GradingScheme:
    """The scheme called `name`; an unknown name lists the known ones."""
    schemes = load_schemes(path)
    if name not in schemes:
        raise UsageError(f"unknown grading scheme {name!r} (known: {', '.join(sorted(schemes))})")
    return schemes[name]


def profile_scheme(settings: Settings) -> str:
    """The scheme a run uses when it names none: the profile's `grading_scheme` (lakejobs.toml,
    declared by `jobs.exams.SETTING_KEYS`), else csat9."""
    return str(settings.job_defaults.get("grading_scheme", DEFAULT_SCHEME))


@dataclass(frozen=True)
class GradingResult:
    """The three outputs of grading one set of scores (lazy DataFrames; nothing is cached)."""

    grades: DataFrame
    cutoffs: DataFrame
    school_report: DataFrame


def score_histogram(scores: DataFrame) -> DataFrame:
    """Rows per (exam_id, subject, score): the one aggregation the grades are derived from.

    Its size is bounded by the distinct scores of each group (a few thousand rows for a whole
    exam season), so the partial aggregation stays in cache and the shuffle is negligible.
    """
    return scores.groupBy(*GROUP_KEYS, "score").agg(F.count(F.lit(1)).alias("count"))


def _with_moments(histogram: DataFrame, keys: Sequence[str]) -> DataFrame:
    """Add n, mean and population stddev of `score` over `keys`, two-pass from the counts.

    The mean is clamped into [min score, max score], where the exact mean lies: without it a group
    of equal scores such as 0.1, 0.1, 0.1 would get 0.30000000000000004 / 3 as mean and a stddev of
    rounding noise instead of exactly 0.
    """
    over = Window.partitionBy(*keys)
    count, score = F.col("count"), F.col("score")
    deviation = score - F.col("mean")
    return (
        histogram.withColumn("n", F.sum(count).over(over))
        .withColumn(
            "mean",
            F.least(
                F.greatest(F.sum(count * score).over(over) / F.col("n"), F.min(score).over(over)),
                F.max(score).over(over),
            ),
        )
        .withColumn(
            "stddev", F.sqrt(F.sum(count * (deviation * deviation)).over(over) / F.col("n"))
        )
    )


def _grade(scheme: GradingScheme) -> Column:
    """Smallest k with rank / n <= cum[k] / 100, tested as rank * 100 <= cum[k] * n in decimals:
    in floating point (7 / 100 * 100 > 7) a student exactly on a cut-off could miss the grade."""
    rank_x100 = F.col("rank").cast(_COUNT_TYPE) * 100
    n = F.col("n").cast(_COUNT_TYPE)
    last = len(scheme.cumulative_percent)
    grade = F.lit(last)  # the last percent is 100 and rank <= n, so the last grade always fits
    for k in range(last - 1, 0, -1):
        percent = F.lit(format(scheme.cumulative_percent[k - 1], "f")).cast(_PERCENT_TYPE)
        grade = F.when(rank_x100 <= n * percent, F.lit(k)).otherwise(grade)
    return grade


def grade_lookup(histogram: DataFrame, scheme: GradingScheme) -> DataFrame:
    """One row per (exam_id, subject, distinct score) with everything a score row needs.

    Accepts any histogram with exam_id, subject, score and count (finer ones, e.g. by school, too)
    and rolls it up first, so the windows run over distinct scores, never over the rows.
    """
    by_score = histogram.groupBy(*GROUP_KEYS, "score").agg(F.sum("count").alias("count"))
    up_to_score = (
        Window.partitionBy(*GROUP_KEYS)
        .orderBy("score")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    below = F.col("at_or_below") - F.col("count")
    return (
        _with_moments(by_score, GROUP_KEYS)
        .withColumn("at_or_below", F.sum("count").over(up_to_score))
        .withColumn("rank", F.col("n") - F.col("at_or_below") + 1)
        .withColumn("percentile", F.lit(100.0) * (below + F.lit(0.5) * F.col("count")) / F.col("n"))
        .withColumn("grade", _grade(scheme))
        .withColumn(
            "standard_score",
            F.when(F.col("stddev") == 0, F.lit(100.0)).otherwise(
                F.round(
                    F.lit(100.0) + F.lit(20.0) * (F.col("score") - F.col("mean")) / F.col("stddev"),
                    1,
                )
            ),
        )
        .select(*GROUP_KEYS, "score", "count", "n", "rank", "percentile", "grade", "standard_score")
    )


def grade_rows(scores: DataFrame, lookup: DataFrame, scheme: GradingScheme) -> DataFrame:
    """Give every score row its statistics by a broadcast join on its score: the rows are never
    sorted or shuffled, and columns other than the ones graded are dropped."""
    stats = lookup.select(
        *GROUP_KEYS, "score", "n", "rank", "percentile", "grade", "standard_score"
    )
    return scores.join(F.broadcast(stats), [*GROUP_KEYS, "score"]).select(
        "exam_id",
        "exam_date",
        "subject",
        "student_id",
        "school_id",
        "class_id",
        "score",
        "n",
        "rank",
        "percentile",
        "grade",
        "standard_score",
        F.lit(scheme.name).alias("scheme"),
    )


def grade_cutoffs(lookup: DataFrame, scheme: GradingScheme) -> DataFrame:
    """Per grade that someone reached: the lowest score reaching it, how many got it, their share."""
    return (
        lookup.groupBy(*GROUP_KEYS, "grade")
        .agg(
            F.min("score").alias("min_score"),
            F.sum("count").alias("count"),
            F.any_value("n").alias("n"),
        )
        .select(
            *GROUP_KEYS,
            F.lit(scheme.name).alias("scheme"),
            "grade",
            "min_score",
            "count",
            (F.col("count") / F.col("n")).alias("share"),
        )
    )


def school_report(scores: DataFrame, lookup: DataFrame, scheme: GradingScheme) -> DataFrame:
    """Per (exam_id, subject, school_id): size, mean, stddev, mean standard score, grade counts.

    One hash aggregate over the score rows joined with the broadcast lookup: no sort and no
    window over rows, and only ~ groups x schools rows leave each task. `stddev_pop` is Spark's
    streaming central-moment aggregate (exactly 0 for equal scores); the mean is clamped into
    [min, max] so that equal scores such as 0.1, 0.1, 0.1 have exactly that mean.
    There are always MAX_GRADES grade columns, so every scheme fits the one table contract.
    """
    graded = scores.select(*_SCHOOL_KEYS, "score").join(
        F.broadcast(lookup.select(*GROUP_KEYS, "score", "grade", "standard_score")),
        [*GROUP_KEYS, "score"],
    )
    score = F.col("score")
    grade_columns = [f"grade_{k}" for k in range(1, MAX_GRADES + 1)]
    return (
        graded.groupBy(*_SCHOOL_KEYS)
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.least(F.greatest(F.avg(score), F.min(score)), F.max(score)).alias("mean"),
            F.stddev_pop(score).alias("stddev"),
            F.sum("standard_score").alias("standard_score_total"),
            *[
                F.count(F.when(F.col("grade") == k, F.lit(1))).alias(name)
                for k, name in enumerate(grade_columns, start=1)
            ],
        )
        .select(
            *_SCHOOL_KEYS,
            F.lit(scheme.name).alias("scheme"),
            "n",
            "mean",
            "stddev",
            (F.col("standard_score_total") / F.col("n")).alias("mean_standard_score"),
            *grade_columns,
            ((F.col("grade_1") + F.col("grade_2")) / F.col("n")).alias("share_top2"),
        )
    )


def grade(scores: DataFrame, scheme: GradingScheme) -> GradingResult:
    """Grade `scores` (columns of exams.scores; others are ignored) with `scheme`.

    Scores must be non-null (ingestion quarantines the rest). Nothing is cached here: a caller
    writing all three outputs should persist the lookup, as the exams.grade job does.
    """
    lookup = grade_lookup(score_histogram(scores), scheme)
    return GradingResult(
        grades=grade_rows(scores, lookup, scheme),
        cutoffs=grade_cutoffs(lookup, scheme),
        school_report=school_report(scores, lookup, scheme),
    )
