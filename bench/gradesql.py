"""The grading spec of docs/design.md §4 written as SQL, for the SQL baselines.

`graded_sql` is the query people write first in a database: sort every group's rows (RANK) and
count them (COUNT OVER). The same text runs on DuckDB and MariaDB; only the identifier quote
differs. It shares nothing with lakejobs' implementation except the grading scheme's cut-offs, so
the cross-check compares two independent readings of the spec. `graded_histogram_sql` is the
fair peer: lakejobs' own plan (histogram, cumulative counts, join back) in DuckDB.
"""

from __future__ import annotations

from jobs.exams.grading import MAX_GRADES, GradingScheme

SCORE_COLUMNS = ("exam_id", "exam_date", "subject", "student_id", "school_id", "class_id", "score")


def grade_case(scheme: GradingScheme, rank: str, n: str) -> str:
    """Smallest k with rank / n <= cum[k] / 100, compared as rank * 100 <= cum[k] * n so that
    no division rounds (decimal literals are exact in both databases)."""
    percents = scheme.cumulative_percent
    whens = " ".join(
        f"WHEN {rank} * 100 <= {format(p, 'f')} * {n} THEN {k}"
        for k, p in enumerate(percents[:-1], start=1)
    )
    return f"CASE {whens} ELSE {len(percents)} END"


def graded_sql(source: str, scheme: GradingScheme, quote: str) -> str:
    """One row per score with n, rank, percentile, grade and standard score (exams.grades)."""
    rank = f"{quote}rank{quote}"
    group = "PARTITION BY exam_id, subject"
    columns = ", ".join(SCORE_COLUMNS)
    # 1e2 is a DOUBLE literal in both dialects: MariaDB's DECIMAL division would round
    # the percentile to 4 decimals (div_precision_increment).
    return f"""
SELECT {columns}, n, {rank},
       1e2 * (lower_count + 0.5 * equal_count) / n AS percentile,
       {grade_case(scheme, rank, "n")} AS grade,
       CASE WHEN sd = 0 THEN 1e2 ELSE ROUND(100 + 20 * (score - mean) / sd, 1) END
           AS standard_score,
       '{scheme.name}' AS scheme
FROM (
    SELECT {columns},
           COUNT(*) OVER ({group}) AS n,
           RANK() OVER ({group} ORDER BY score DESC) AS {rank},
           RANK() OVER ({group} ORDER BY score) - 1 AS lower_count,
           COUNT(*) OVER ({group}, score) AS equal_count,
           AVG(score) OVER ({group}) AS mean,
           STDDEV_POP(score) OVER ({group}) AS sd
    FROM {source}
) ranked
"""


def cutoffs_sql(grades: str, scheme: GradingScheme) -> str:
    """exams.grade_cutoffs from graded rows: lowest score per grade, count, share of the group."""
    return f"""
SELECT exam_id, subject, '{scheme.name}' AS scheme, grade, MIN(score) AS min_score,
       COUNT(*) AS count, COUNT(*) / ANY_VALUE(n) AS share
FROM {grades}
GROUP BY exam_id, subject, grade
"""


def school_report_sql(grades: str, scheme: GradingScheme) -> str:
    """exams.school_report from graded rows: size, moments, mean standard score, grade counts."""
    counts = ", ".join(
        f"COUNT(*) FILTER (WHERE grade = {k}) AS grade_{k}" for k in range(1, MAX_GRADES + 1)
    )
    return f"""
SELECT exam_id, subject, school_id, '{scheme.name}' AS scheme, COUNT(*) AS n,
       AVG(score) AS mean, STDDEV_POP(score) AS stddev,
       AVG(standard_score) AS mean_standard_score, {counts},
       COUNT(*) FILTER (WHERE grade <= 2) / COUNT(*) AS share_top2
FROM {grades}
GROUP BY exam_id, subject, school_id
"""


def check_sql(grades: str, quote: str) -> str:
    """The cross-check aggregate: per (exam_id, subject, grade) the row count (the grade
    histogram) plus sums of rank, percentile and standard score."""
    return f"""
SELECT exam_id, subject, grade, COUNT(*), SUM({quote}rank{quote}), SUM(percentile),
       SUM(standard_score)
FROM {grades}
GROUP BY exam_id, subject, grade
"""


def graded_histogram_sql(source: str, scheme: GradingScheme, quote: str) -> str:
    """exams.grades by DuckDB's best plan: lakejobs' own approach in SQL.

    Group the scores into a histogram per (exam_id, subject, score), derive rank, percentile and
    moments from cumulative counts over that small table (windows over distinct scores, not
    rows), and join it back to the rows on (exam_id, subject, score). The moments are two-pass
    over the counts, the mean clamped into [min, max] as in jobs.exams.grading."""
    rank = f"{quote}rank{quote}"
    group = "PARTITION BY exam_id, subject"
    up_to = f"({group} ORDER BY score ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    columns = ", ".join(f"s.{c}" for c in SCORE_COLUMNS)
    return f"""
WITH histogram AS (
    SELECT exam_id, subject, score, COUNT(*) AS c FROM {source} GROUP BY exam_id, subject, score
), moments AS (
    SELECT exam_id, subject, SUM(c) AS n,
           LEAST(GREATEST(SUM(c * score) / SUM(c), MIN(score)), MAX(score)) AS mean
    FROM histogram GROUP BY exam_id, subject
), lookup AS (
    SELECT h.exam_id, h.subject, h.score, m.n, m.mean,
           m.n - SUM(h.c) OVER {up_to} + 1 AS {rank},
           1e2 * (SUM(h.c) OVER {up_to} - 0.5 * h.c) / m.n AS percentile,
           SQRT(SUM(h.c * (h.score - m.mean) * (h.score - m.mean)) OVER ({group}) / m.n) AS sd
    FROM histogram h JOIN moments m USING (exam_id, subject)
)
SELECT {columns}, l.n, l.{rank}, l.percentile,
       {grade_case(scheme, f"l.{rank}", "l.n")} AS grade,
       CASE WHEN l.sd = 0 THEN 1e2 ELSE ROUND(100 + 20 * (s.score - l.mean) / l.sd, 1) END
           AS standard_score,
       '{scheme.name}' AS scheme
FROM {source} s JOIN lookup l USING (exam_id, subject, score)
"""
