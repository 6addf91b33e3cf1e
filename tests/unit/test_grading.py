"""Relative grading on small hand-computed cases: ranks, percentiles, grades, standard scores.

The cases are separate exams graded together in one DataFrame (grading is per exam and subject,
so they must not affect each other), once per scheme: a handful of Spark queries for the module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from jobs.exams.grading import (
    MAX_GRADES,
    GradingScheme,
    get_scheme,
    grade,
    grade_lookup,
    load_schemes,
)
from lakejobs.contracts import table_contract
from lakejobs.errors import ConfigError, UsageError

EXAM_DATE = date(2026, 11, 20)
SCORES_SCHEMA = (
    "exam_id string, exam_date date, subject string, student_id string, school_id string, "
    "class_id string, score double"
)
CSAT9 = get_scheme("csat9")
HS5 = get_scheme("hs5")


def rows(exam_id, scores, *, subject="math", school="S1", first=1):
    """Score rows of one school in one group: students ST<first>, ST<first + 1>, ... in order."""
    return [
        (exam_id, EXAM_DATE, subject, f"ST{i:02d}", school, "C1", float(score))
        for i, score in enumerate(scores, start=first)
    ]


CASES = [
    *rows("ties", [90, 80, 80, 70]),
    *rows("equal", [0.1, 0.1]),
    *rows("equal", [0.1], school="S2", first=3),
    *rows("single", [42]),
    *rows("boundary", range(25, 0, -1)),
    *rows("fractional", [0.25, 0.5, 0.5, 97.75, 33.3]),
    *rows("schools", [10, 9, 8, 1]),
    *rows("schools", [7, 6, 5, 4, 3, 2], school="S2", first=5),
    *rows("subjects", [10, 20], subject="math"),
    *rows("subjects", [30, 20, 10], subject="art"),
]


@dataclass(frozen=True)
class Collected:
    """The three grading outputs of CASES, collected and keyed by their primary keys."""

    grades: dict[tuple, tuple]
    cutoffs: dict[tuple, tuple]
    report: dict[tuple, dict]

    def stats(self, exam_id, student, subject="math"):
        """(n, rank, percentile, grade, standard_score) of one student."""
        return self.grades[(exam_id, subject, student)][7:12]


@pytest.fixture(scope="module")
def graded(spark) -> dict[str, Collected]:
    scores = spark.createDataFrame(CASES, SCORES_SCHEMA)
    collected = {}
    for scheme in (CSAT9, HS5):
        result = grade(scores, scheme)
        collected[scheme.name] = Collected(
            grades={(r[0], r[2], r[3]): tuple(r) for r in result.grades.collect()},
            cutoffs={(r[0], r[1], r[3]): tuple(r) for r in result.cutoffs.collect()},
            report={(r[0], r[1], r[2]): r.asDict() for r in result.school_report.collect()},
        )
    return collected


def test_every_row_is_graded_once(graded):
    assert len(graded["csat9"].grades) == len(CASES)


def test_ties_share_the_better_rank(graded):
    # mean 80, stddev sqrt(50); rank/n 25% -> grade 4, 50% -> grade 5, 100% -> grade 9.
    stats = [(1, 87.5, 4, 128.3), (2, 50.0, 5, 100.0), (2, 50.0, 5, 100.0), (4, 12.5, 9, 71.7)]
    expected = [
        (*row, 4, *stat, "csat9")
        for row, stat in zip(rows("ties", [90, 80, 80, 70]), stats, strict=True)
    ]
    grades = graded["csat9"].grades
    assert [grades[("ties", "math", f"ST{i:02d}")] for i in range(1, 5)] == expected


def test_all_equal_scores_get_standard_score_100(graded):
    # 3 * 0.1 / 3 != 0.1 in floating point; equal scores must still have a stddev of exactly 0.
    csat9 = graded["csat9"]
    assert {csat9.stats("equal", f"ST{i:02d}") for i in range(1, 4)} == {(3, 1, 50.0, 4, 100.0)}
    report = {
        school: tuple(csat9.report[("equal", "math", school)][c] for c in ("n", "mean", "stddev"))
        for school in ("S1", "S2")
    }
    assert report == {"S1": (2, 0.1, 0.0), "S2": (1, 0.1, 0.0)}
    assert csat9.report[("equal", "math", "S1")]["mean_standard_score"] == 100.0


def test_single_row_group(graded):
    assert graded["csat9"].stats("single", "ST01") == (1, 1, 50.0, 9, 100.0)
    assert graded["hs5"].stats("single", "ST01") == (1, 1, 50.0, 5, 100.0)


def test_grade_boundary_is_inclusive(graded):
    # n = 25: csat9 cut-offs fall at ranks 1, 2.75, 5.75, 10, 15, 19.25, 22.25, 24 and 25;
    # rank 1 is exactly 4% (grade 1), rank 10 exactly 40% (grade 4), rank 15 exactly 60% (5).
    by_rank = [1, 2, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 9]
    csat9 = graded["csat9"]
    assert [csat9.stats("boundary", f"ST{r:02d}")[1:4:2] for r in range(1, 26)] == list(
        enumerate(by_rank, start=1)
    )


def test_grade_comparison_is_exact_where_floats_would_round(spark):
    # 7 / 100 * 100 == 7.000000000000001 > 7, and a cut-off of 4.5 must stay exactly 4.5.
    scheme = GradingScheme("exact", (Decimal("4.5"), Decimal(7), Decimal(100)))
    data = rows("E1", range(100, 0, -1), subject="n100") + rows(
        "E1", range(200, 0, -1), subject="n200"
    )
    result = grade(spark.createDataFrame(data, SCORES_SCHEMA), scheme).grades
    at_boundaries = result.where(
        "(subject = 'n100' AND rank IN (4, 5, 7, 8)) OR (subject = 'n200' AND rank IN (9, 10, 14, 15))"
    ).select("subject", "rank", "grade")
    expected = spark.createDataFrame(
        [("n100", 4, 1), ("n100", 5, 2), ("n100", 7, 2), ("n100", 8, 3),
         ("n200", 9, 1), ("n200", 10, 2), ("n200", 14, 2), ("n200", 15, 3)],
        "subject string, rank bigint, grade int",
    )  # fmt: skip
    assert_df_equality(at_boundaries, expected, ignore_row_order=True, ignore_nullable=True)


def test_fractional_scores(graded):
    # mean 26.46, population stddev 37.8519669...
    csat9 = graded["csat9"]
    assert [csat9.stats("fractional", f"ST{i:02d}") for i in range(1, 6)] == [
        (5, 5, 10.0, 9, 86.2),
        (5, 3, 40.0, 5, 86.3),
        (5, 3, 40.0, 5, 86.3),
        (5, 1, 90.0, 3, 137.7),
        (5, 2, 70.0, 4, 103.6),
    ]


def test_groups_are_graded_independently(graded):
    csat9 = graded["csat9"]
    assert csat9.stats("subjects", "ST02", subject="math")[:3] == (2, 1, 75.0)
    assert csat9.stats("subjects", "ST02", subject="art")[:3] == (3, 2, 50.0)


def test_hs5_scheme(graded):
    # Scores 10..1: rank r = 11 - score; hs5 cut-offs at ranks 1, 3.4, 6.6, 9 and 10.
    hs5 = graded["hs5"]
    expected_grades = [1, 2, 2, 5, 3, 3, 3, 4, 4, 4]
    assert [hs5.grades[("schools", "math", f"ST{i:02d}")][10:] for i in range(1, 11)] == [
        (g, float(s), "hs5")
        for g, s in zip(expected_grades, [131.3, 124.4, 117.4, 68.7, 110.4, 103.5, 96.5, 89.6, 82.6, 75.6], strict=True)
    ]  # fmt: skip
    assert [hs5.cutoffs[("schools", "math", g)][2:] for g in range(1, 6)] == [
        ("hs5", 1, 10.0, 1, 0.1),
        ("hs5", 2, 8.0, 2, 0.2),
        ("hs5", 3, 5.0, 3, 0.3),
        ("hs5", 4, 2.0, 3, 0.3),
        ("hs5", 5, 1.0, 1, 0.1),
    ]


def test_cutoffs_are_listed_only_for_grades_someone_reached(graded):
    cutoffs = graded["csat9"].cutoffs
    assert sorted(v for k, v in cutoffs.items() if k[0] == "ties") == [
        ("ties", "math", "csat9", 4, 90.0, 1, 0.25),
        ("ties", "math", "csat9", 5, 80.0, 2, 0.5),
        ("ties", "math", "csat9", 9, 70.0, 1, 0.25),
    ]


def test_school_report_has_all_nine_grade_columns_even_for_hs5(graded):
    report = graded["hs5"].report
    s1, s2 = report[("schools", "math", "S1")], report[("schools", "math", "S2")]
    # S1 scored 10, 9, 8, 1 (grades 1, 2, 2, 5); S2 scored 7..2 (grades 3, 3, 3, 4, 4, 4).
    assert [s1[f"grade_{k}"] for k in range(1, MAX_GRADES + 1)] == [1, 2, 0, 0, 1, 0, 0, 0, 0]
    assert [s2[f"grade_{k}"] for k in range(1, MAX_GRADES + 1)] == [0, 0, 3, 3, 0, 0, 0, 0, 0]
    assert (s1["scheme"], s1["n"], s1["mean"], s1["share_top2"]) == ("hs5", 4, 7.0, 0.75)
    assert (s2["scheme"], s2["n"], s2["mean"], s2["share_top2"]) == ("hs5", 6, 4.5, 0.0)
    assert s1["stddev"] == pytest.approx(12.5**0.5, rel=1e-12)
    assert s2["stddev"] == pytest.approx((17.5 / 6) ** 0.5, rel=1e-12)
    assert s1["mean_standard_score"] == pytest.approx((131.3 + 124.4 + 117.4 + 68.7) / 4, rel=1e-12)
    assert s2["mean_standard_score"] == pytest.approx(
        (110.4 + 103.5 + 96.5 + 89.6 + 82.6 + 75.6) / 6, rel=1e-12
    )


def test_lookup_has_one_row_per_distinct_score_whatever_the_schools(spark):
    data = rows("E1", [90, 80]) + rows("E1", [80, 70], school="S2", first=3)
    by_school = spark.createDataFrame(data, SCORES_SCHEMA).groupBy(
        "exam_id", "subject", "school_id", "score"
    )
    lookup = grade_lookup(by_school.count(), CSAT9)
    assert sorted((r.score, r["count"], r.n, r.rank, r.percentile) for r in lookup.collect()) == [
        (70.0, 1, 4, 4, 12.5),
        (80.0, 2, 4, 2, 50.0),
        (90.0, 1, 4, 1, 87.5),
    ]


def test_outputs_match_the_table_contracts_and_ignore_extra_columns(spark):
    scores = spark.createDataFrame(
        [(*row, 100.0, EXAM_DATE, "a.csv", "run-1") for row in rows("E1", [1, 2, 3])],
        f"{SCORES_SCHEMA}, max_score double, ingest_date date, source_file string, run_id string",
    )
    result = grade(scores, CSAT9)
    for df, table in (
        (result.grades, "exams.grades"),
        (result.cutoffs, "exams.grade_cutoffs"),
        (result.school_report, "exams.school_report"),
    ):
        expected = [(f.name, f.dataType) for f in table_contract(table).schema.fields]
        assert [(f.name, f.dataType) for f in df.schema.fields] == expected, table


def _plan_paths(node, above=()):
    """Every root-to-node path of a JVM SparkPlan tree, as tuples of node names."""
    path = (*above, node.nodeName())
    yield path
    children = node.children()
    for i in range(children.size()):
        yield from _plan_paths(children.apply(i), path)


def test_plan_has_no_window_or_sort_over_raw_rows_and_no_python_udf(spark):
    result = grade(spark.createDataFrame(rows("E1", [5, 3, 3, 1]), SCORES_SCHEMA), CSAT9)
    for df in (result.grades, result.cutoffs, result.school_report):
        plan = df._jdf.queryExecution().executedPlan()
        if plan.nodeName() == "AdaptiveSparkPlan":
            plan = plan.executedPlan()  # the initial plan, with its exchanges and sorts
        paths = list(_plan_paths(plan))
        names = {name for path in paths for name in path}
        assert not any("Python" in name or "Pandas" in name for name in names), names
        assert "Window" in names, names
        scans = [path for path in paths if path[-1] in ("LocalTableScan", "Scan ExistingRDD")]
        assert scans, names
        for scan in scans:
            # Walking up from the rows, an aggregation comes before any Window or Sort.
            for i, name in enumerate(scan):
                if name in ("Window", "Sort"):
                    assert any("Aggregate" in below for below in scan[i + 1 :]), scan


def test_load_schemes_reads_csat9_and_hs5():
    schemes = load_schemes()
    assert {name: s.cumulative_percent for name, s in schemes.items()} == {
        "csat9": tuple(Decimal(p) for p in (4, 11, 23, 40, 60, 77, 89, 96, 100)),
        "hs5": tuple(Decimal(p) for p in (10, 34, 66, 90, 100)),
    }


def test_scheme_file_cut_offs_keep_their_decimal_value(tmp_path):
    path = tmp_path / "schemes.json"
    path.write_text(json.dumps({"fine": {"cumulative_percent": [4.1, 50, 100]}}))
    assert get_scheme("fine", path).cumulative_percent == (Decimal("4.1"), 50, 100)


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(UsageError) as info:
        get_scheme("x")
    assert str(info.value) == "unknown grading scheme 'x' (known: csat9, hs5)"


@pytest.mark.parametrize(
    ("percents", "message"),
    [
        ((), "needs 1 to 9 cumulative percents, got 0"),
        (tuple(range(10, 101, 10)), "needs 1 to 9 cumulative percents, got 10"),
        ((50, 40, 100), "cumulative percents must be strictly increasing, got 40 after 50"),
        ((50, 50, 100), "cumulative percents must be strictly increasing, got 50 after 50"),
        ((0, 100), "cumulative percent 0 is not in (0, 100]"),
        ((50, 101), "cumulative percent 101 is not in (0, 100]"),
        ((float("nan"), 100), "cumulative percent nan is not in (0, 100]"),
        ((50, 90), "the last cumulative percent must be 100, got 90"),
        (
            (Decimal("4.0000001"), 100),
            "cumulative percent 4.0000001 has more than 6 decimal places",
        ),
        (("4", 100), "cumulative percent '4' is not a number"),
    ],
)
def test_bad_schemes_are_rejected_naming_the_scheme_and_the_problem(percents, message):
    with pytest.raises(UsageError) as info:
        GradingScheme("bad", percents)
    assert str(info.value) == f"grading scheme 'bad': {message}"


def test_bad_scheme_in_a_file_is_rejected_on_load(tmp_path):
    path = tmp_path / "schemes.json"
    path.write_text(json.dumps({"odd": {"cumulative_percent": [50, 40, 100]}}))
    with pytest.raises(ConfigError) as info:
        load_schemes(path)
    assert str(info.value) == (
        f"{path}: grading scheme 'odd': cumulative percents must be strictly increasing, "
        "got 40 after 50"
    )
    path.write_text(json.dumps({"odd": {"description": "no cut-offs"}}))
    with pytest.raises(ConfigError) as info:
        load_schemes(path)
    assert str(info.value) == f"{path}: grading scheme 'odd' needs a cumulative_percent list"
