"""jobs.exams.grading against an independent DuckDB implementation of the grading spec.

The oracle is written from the spec text, with window functions over the raw rows (RANK, COUNT
per score, group sums): a different algorithm from the histogram lookup it checks. The cut-offs
below are copied from the spec, not read from schemas/grading_schemes.json, so the file is
checked too.
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from jobs.exams.grading import get_scheme, grade

pytestmark = pytest.mark.oracle

SPEC_CUMULATIVE_PERCENT = {
    "csat9": (4, 11, 23, 40, 60, 77, 89, 96, 100),
    "hs5": (10, 34, 66, 90, 100),
}
SCORES_SCHEMA = (
    "exam_id string, exam_date date, subject string, student_id string, school_id string, "
    "class_id string, score double"
)
EXAM_DATE = date(2026, 11, 20)
GRADE_COLUMNS = [f"grade_{k}" for k in range(1, 10)]


def _group(rng, exam_id: str, subject: str, scores, schools: int = 4) -> pd.DataFrame:
    """One (exam_id, subject) group with students spread over `schools` schools."""
    n = len(scores)
    return pd.DataFrame(
        {
            "exam_id": exam_id,
            "exam_date": EXAM_DATE,
            "subject": subject,
            "student_id": [f"ST{i:05d}" for i in range(n)],
            "school_id": [f"SCH{s:02d}" for s in rng.integers(0, schools, n)],
            "class_id": [f"C{c}" for c in rng.integers(0, 3, n)],
            "score": np.asarray(scores, dtype=float),
        }
    )


def many_ties(rng) -> list[pd.DataFrame]:
    """40 groups, ~3000 rows of integer scores 0-100 bunched around 65: ties everywhere."""
    return [
        _group(
            rng,
            f"E{e}",
            subject,
            np.clip(np.round(rng.normal(65, 15, rng.integers(20, 130))), 0, 100),
            schools=8,
        )
        for e in range(8)
        for subject in ("math", "korean", "english", "physics", "history")
    ]


def single_row_groups(rng) -> list[pd.DataFrame]:
    """Groups of one row (stddev 0, rank 1 of 1), beside groups of two to five rows."""
    singles = [_group(rng, "E1", f"s{i}", [rng.integers(0, 101)]) for i in range(12)]
    smalls = [_group(rng, "E2", f"s{n}", rng.integers(0, 101, n)) for n in range(2, 6)]
    return singles + smalls


def all_equal_scores(rng) -> list[pd.DataFrame]:
    """Groups whose scores are all equal, sized so that count * score / count is not the score in
    floating point (3 * 0.1 / 3 = 0.10000000000000002), in one school or spread over three."""
    inexact = {0.1: 3, 0.7: 6, 12.34: 11, 1 / 3: 25}
    exact = {73.3: 40, 50.0: 7, 0.0: 5, 100.0: 2}
    groups = [
        _group(rng, "E1", f"eq{i}", [value] * size, schools=1)
        for i, (value, size) in enumerate(inexact.items())
    ] + [
        _group(rng, "E2", f"eq{i}", [value] * size, schools=3)
        for i, (value, size) in enumerate({**inexact, **exact}.items())
    ]
    # All equal but one, so a tiny spread still gets a real standard score.
    groups.append(_group(rng, "E3", "almost", [0.1] * 30 + [0.35]))
    return groups


def fractional_scores(rng) -> list[pd.DataFrame]:
    """Quarter points, arbitrary floats, and arbitrary floats drawn from a pool to force ties."""
    pool = rng.uniform(0, 100, 15)
    return [
        _group(rng, "E1", f"quarters{i}", rng.integers(0, 401, 150) / 4) for i in range(4)
    ] + [
        _group(rng, "E2", f"floats{i}", rng.uniform(0, 100, 120)) for i in range(3)
    ] + [
        _group(rng, "E3", f"pool{i}", rng.choice(pool, 80)) for i in range(3)
    ]  # fmt: skip


def grade_boundaries(rng) -> list[pd.DataFrame]:
    """n = 25 and n = 100, where csat9 and hs5 cut-offs fall exactly on ranks, with and
    without ties straddling them."""
    return [
        _group(rng, "E1", "n25", np.arange(25)),
        _group(rng, "E1", "n100", np.arange(100)),
        _group(rng, "E1", "n25pairs", np.arange(25) // 2),
        _group(rng, "E1", "n100pairs", np.arange(100) // 2),
        _group(rng, "E1", "n100threes", np.arange(100) // 3 + 0.5),
        _group(rng, "E1", "n50", rng.integers(0, 20, 50)),
    ]


DATASETS = {
    "many_ties": many_ties,
    "single_row_groups": single_row_groups,
    "all_equal_scores": all_equal_scores,
    "fractional_scores": fractional_scores,
    "grade_boundaries": grade_boundaries,
}


def _oracle(scores: pd.DataFrame, cumulative_percent) -> dict[str, pd.DataFrame]:
    """Grades, cut-offs and school report computed by DuckDB straight from the spec."""
    con = duckdb.connect()
    con.register("scores", scores.drop(columns="exam_date"))
    con.execute("CREATE TABLE cuts (k INTEGER, cum DECIMAL(9, 6))")
    con.executemany("INSERT INTO cuts VALUES (?, ?)", list(enumerate(cumulative_percent, start=1)))
    con.execute(
        """
        CREATE TABLE graded AS
        WITH ranked AS (
            SELECT *,
                COUNT(*) OVER (PARTITION BY exam_id, subject) AS n,
                RANK() OVER (PARTITION BY exam_id, subject ORDER BY score DESC) AS rank,
                RANK() OVER (PARTITION BY exam_id, subject ORDER BY score) - 1 AS lower,
                COUNT(*) OVER (PARTITION BY exam_id, subject, score) AS equal,
                SUM(score) OVER (PARTITION BY exam_id, subject)
                    / COUNT(*) OVER (PARTITION BY exam_id, subject) AS mean,
                -- stddev_pop is 0 exactly when all scores are equal (computed, it can be ulps off)
                MIN(score) OVER (PARTITION BY exam_id, subject)
                    = MAX(score) OVER (PARTITION BY exam_id, subject) AS no_spread
            FROM scores
        ), spread AS (
            SELECT *,
                sqrt(SUM((score - mean) * (score - mean)) OVER (PARTITION BY exam_id, subject) / n)
                    AS sd
            FROM ranked
        )
        SELECT exam_id, subject, student_id, school_id, class_id, score, n, rank,
            100 * (lower + 0.5 * equal)::DOUBLE / n AS percentile,
            (SELECT min(k) FROM cuts WHERE rank * 100 <= cum * n) AS grade,
            CASE WHEN no_spread THEN 100.0 ELSE 100 + 20 * (score - mean) / sd END AS unrounded,
            CASE WHEN no_spread THEN 100.0 ELSE round(100 + 20 * (score - mean) / sd, 1) END
                AS standard_score
        FROM spread
        """
    )
    grade_counts = ", ".join(
        f"COUNT(*) FILTER (WHERE grade = {k}) AS grade_{k}" for k in range(1, 10)
    )
    return {
        "grades": con.sql("SELECT * FROM graded").df(),
        "cutoffs": con.sql(
            """SELECT exam_id, subject, grade, MIN(score) AS min_score, COUNT(*) AS count,
                   COUNT(*)::DOUBLE / ANY_VALUE(n) AS share
               FROM graded GROUP BY exam_id, subject, grade"""
        ).df(),
        "school_report": con.sql(
            f"""SELECT exam_id, subject, school_id, COUNT(*) AS n, AVG(score) AS mean,
                    STDDEV_POP(score) AS stddev, AVG(standard_score) AS mean_standard_score,
                    {grade_counts},
                    (COUNT(*) FILTER (WHERE grade <= 2))::DOUBLE / COUNT(*) AS share_top2
                FROM graded GROUP BY exam_id, subject, school_id"""
        ).df(),
    }


def _same_standard_score(ours: float, rounded: float, unrounded: float) -> bool:
    """Equal, or one rounding step apart because the unrounded value sits within 1e-9 of a
    .x5 boundary: there the last-ulp differences of two summation orders (and Spark's decimal
    HALF_UP versus DuckDB's binary round) may legitimately pick different sides."""
    if ours == rounded:
        return True
    tenths = unrounded * 10
    on_boundary = abs(tenths - math.floor(tenths) - 0.5) <= 1e-8
    return on_boundary and math.isclose(abs(ours - rounded), 0.1, rel_tol=1e-9)


def _by_key(records: list[dict], key: list[str]) -> dict[tuple, dict]:
    return {tuple(r[k] for k in key): r for r in records}


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9)


def _dataset(name: str) -> pd.DataFrame:
    """A data set, its exam ids prefixed with its name so that all of them can be graded at once."""
    rng = np.random.default_rng(20261120 + list(DATASETS).index(name))
    frame = pd.concat(DATASETS[name](rng), ignore_index=True)
    return frame.assign(exam_id=f"{name}/" + frame["exam_id"])


@pytest.fixture(scope="module")
def datasets() -> dict[str, pd.DataFrame]:
    return {name: _dataset(name) for name in DATASETS}


@pytest.fixture(scope="module")
def spark_results(spark, datasets):
    """Every data set graded in one DataFrame, per scheme, collected: three Spark queries per
    scheme, and groups of all data sets side by side must not affect each other."""
    scores = spark.createDataFrame(pd.concat(datasets.values(), ignore_index=True), SCORES_SCHEMA)
    results = {}
    for name in SPEC_CUMULATIVE_PERCENT:
        result = grade(scores, get_scheme(name))
        results[name] = {
            output: [r.asDict() for r in df.collect()]
            for output, df in (
                ("grades", result.grades),
                ("cutoffs", result.cutoffs),
                ("school_report", result.school_report),
            )
        }
    return results


@pytest.mark.parametrize("scheme_name", list(SPEC_CUMULATIVE_PERCENT))
@pytest.mark.parametrize("dataset_name", list(DATASETS))
def test_grading_matches_the_duckdb_oracle(datasets, spark_results, dataset_name, scheme_name):
    dataset = datasets[dataset_name]
    expected = _oracle(dataset, SPEC_CUMULATIVE_PERCENT[scheme_name])
    ours = {
        output: [r for r in records if r["exam_id"].startswith(f"{dataset_name}/")]
        for output, records in spark_results[scheme_name].items()
    }

    grades = ours["grades"]
    assert len(grades) == len(dataset)
    oracle_grades = _by_key(
        expected["grades"].to_dict("records"), ["exam_id", "subject", "student_id"]
    )
    assert {(g["exam_id"], g["subject"], g["student_id"]) for g in grades} == set(oracle_grades)
    wrong = []
    for g in grades:
        o = oracle_grades[(g["exam_id"], g["subject"], g["student_id"])]
        same = (
            (g["school_id"], g["class_id"], g["score"])
            == (o["school_id"], o["class_id"], o["score"])
            and (g["n"], g["rank"], g["grade"]) == (o["n"], o["rank"], o["grade"])
            and math.isclose(g["percentile"], o["percentile"], rel_tol=0, abs_tol=1e-9)
            and _same_standard_score(g["standard_score"], o["standard_score"], o["unrounded"])
            and (g["exam_date"], g["scheme"]) == (EXAM_DATE, scheme_name)
        )
        if not same:
            wrong.append((g, o))
    assert not wrong, f"{len(wrong)} rows differ, e.g. {wrong[:3]}"

    cutoffs = _by_key(ours["cutoffs"], ["exam_id", "subject", "grade"])
    oracle_cutoffs = _by_key(
        expected["cutoffs"].to_dict("records"), ["exam_id", "subject", "grade"]
    )
    assert set(cutoffs) == set(oracle_cutoffs)
    for key, c in cutoffs.items():
        o = oracle_cutoffs[key]
        assert (c["scheme"], c["min_score"], c["count"]) == (
            scheme_name,
            o["min_score"],
            o["count"],
        ), key
        assert _close(c["share"], o["share"]), key

    report = _by_key(ours["school_report"], ["exam_id", "subject", "school_id"])
    oracle_report = _by_key(
        expected["school_report"].to_dict("records"), ["exam_id", "subject", "school_id"]
    )
    assert set(report) == set(oracle_report)
    for key, s in report.items():
        o = oracle_report[key]
        assert s["scheme"] == scheme_name, key
        assert [s[c] for c in ["n", *GRADE_COLUMNS]] == [o[c] for c in ["n", *GRADE_COLUMNS]], key
        for column in ("mean", "stddev", "mean_standard_score", "share_top2"):
            assert _close(s[column], o[column]), (key, column, s[column], o[column])
