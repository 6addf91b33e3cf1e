"""The runner: declared inputs only, slice predicates from the data, counts from the commits,
and a failed run rolled back. Outcomes are read back from the tables."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.errors import UsageError
from lakejobs.job import Job, Produced
from lakejobs.lake import LakeLayout
from lakejobs.outputs import (
    Slices,
    append,
    insert_new,
    merge,
    replace_slices,
    slice_predicate,
    sql_literal,
)
from lakejobs.pipeline import run_job
from tests.conftest import TEST_SETTINGS

DAY = date(2026, 11, 20)
CUTOFFS = "exams.grade_cutoffs"
DAU = "events.daily_active_users"


def test_slice_values_are_quoted_by_their_type():
    assert slice_predicate(("exam_id",), [("O'Brien\\2026",), ("a",)]) == (
        "`exam_id` IN ('O\\'Brien\\\\2026', 'a')"
    )
    assert slice_predicate(("event_date",), [(date(2026, 11, 19),), (None,)]) == (
        "`event_date` IN (DATE'2026-11-19') OR `event_date` IS NULL"
    )
    assert slice_predicate(
        ("media_source", "date"), [("g", DAY), ("f'", DAY), ("g", date(2026, 11, 19))]
    ) == (
        "(`media_source` = 'f\\'' AND (`date` IN (DATE'2026-11-20'))) OR "
        "(`media_source` = 'g' AND (`date` IN (DATE'2026-11-19', DATE'2026-11-20')))"
    )
    assert slice_predicate(("exam_id",), []) == "1 = 0"
    with pytest.raises(UsageError):
        sql_literal(1.5)  # type: ignore[arg-type]


def test_declarations_are_checked_against_the_contract():
    with pytest.raises(UsageError, match=r"keys date are not its contract's primary key"):
        merge("ads.fx_rates", keys=("date",))
    with pytest.raises(UsageError, match=r"not columns of its contract: nope"):
        replace_slices(CUTOFFS, by=("nope",))
    with pytest.raises(UsageError, match=r"replace_slices needs `by` or `owned`"):
        replace_slices(CUTOFFS)


def cutoff(spark, exam_id: str, grade: int = 1):
    return spark.createDataFrame(
        [(exam_id, "math", "csat9", grade, 90.0, 3, 0.5)],
        "exam_id string, subject string, scheme string, grade int, min_score double, "
        "count bigint, share double",
    )


def settings(tmp_path: Path):
    return dataclasses.replace(TEST_SETTINGS, lake=str(tmp_path / "lake"))


def read(spark, tmp_path: Path, table: str):
    tables = Catalog(spark, LakeLayout(settings(tmp_path).lake))
    return spark.read.format("delta").load(tables.location(table_contract(table)))


def declared(name: str, writes, frames, rows_in: int, good: int | None = None) -> Job:
    """A job without inputs whose transform returns `frames` as they are."""

    def transform(ctx, inputs) -> Produced:
        return Produced(frames, rows_in=rows_in, good=good)

    return Job(name, (), tuple(writes), transform, "")


def run(spark, tmp_path: Path, job: Job):
    return run_job(spark, settings(tmp_path), job, DAY, echo=lambda _: None, force=True)


def test_reading_an_undeclared_input_fails_the_run_before_any_write(spark, tmp_path):
    def transform(ctx, inputs):
        inputs.table("exams.scores")
        return Produced({CUTOFFS: cutoff(ctx.spark, "e1")}, rows_in=1)

    job = Job("exams.sneaky", ("exams.grades",), (append(CUTOFFS),), transform, "")
    record = run(spark, tmp_path, job)
    assert record.status == "failed"
    assert record.error == (
        "exams.sneaky reads exams.scores, which it does not declare as an input "
        "(inputs: exams.grades)"
    )
    assert not (tmp_path / "lake" / "curated" / "exams" / "grade_cutoffs").exists()


def test_slices_replaced_are_those_of_the_data_odd_values_included(spark, tmp_path):
    odd = "O'Brien \\ 2026"
    frames = [cutoff(spark, odd), cutoff(spark, "plain"), cutoff(spark, "kept")]

    def job(rows, scope=None) -> Job:
        frame = rows if scope is None else Slices(rows, scope)
        writes = [replace_slices(CUTOFFS, by=("exam_id",))]
        return declared("exams.cutoffs", writes, {CUTOFFS: frame}, rows.count())

    assert run(spark, tmp_path, job(frames[0].union(frames[1]).union(frames[2]))).status == (
        "succeeded"
    )
    # Only the odd exam is delivered again (grade 2 now): the other exams keep their rows.
    again = run(spark, tmp_path, job(cutoff(spark, odd, grade=2)))
    assert again.status == "succeeded", again.error
    rows = {(r.exam_id, r.grade) for r in read(spark, tmp_path, CUTOFFS).collect()}
    assert rows == {(odd, 2), ("plain", 1), ("kept", 1)}
    # A slice named in the scope but absent from the rows is emptied.
    emptied = run(spark, tmp_path, job(cutoff(spark, "kept").limit(0), scope=["plain"]))
    assert emptied.status == "succeeded", emptied.error
    assert emptied.outcome.counts.written == 0
    rows = {(r.exam_id, r.grade) for r in read(spark, tmp_path, CUTOFFS).collect()}
    assert rows == {(odd, 2), ("kept", 1)}


def dau(spark, *days: date):
    return spark.createDataFrame(
        [(d, 5, 9) for d in days], "event_date date, dau bigint, events bigint"
    )


def test_counts_come_from_the_commits_the_run_made(spark, tmp_path):
    def job(rows) -> Job:
        writes = [insert_new(DAU, keys=("event_date",))]
        return declared("events.dau", writes, {DAU: rows}, rows.count(), good=rows.count())

    first = run(spark, tmp_path, job(dau(spark, DAY, date(2026, 11, 19))))
    assert first.status == "succeeded", first.error
    assert (first.outcome.counts.written, first.outcome.counts.duplicates) == (2, 0)
    # One key is new, two are in the table already: the commit inserted one row, two are
    # duplicates.
    second = run(spark, tmp_path, job(dau(spark, DAY, date(2026, 11, 19), date(2026, 11, 18))))
    assert second.status == "succeeded", second.error
    assert (second.outcome.counts.written, second.outcome.counts.duplicates) == (1, 2)
    assert [c.table for c in second.outcome.commits] == [DAU]
    assert read(spark, tmp_path, DAU).count() == 3


def test_a_failing_second_output_rolls_back_the_first(spark, tmp_path):
    def job(dau) -> Job:
        frames = {CUTOFFS: cutoff(spark, "e1"), DAU: dau}
        writes = [replace_slices(CUTOFFS, by=("exam_id",)), replace_slices(DAU, by=("event_date",))]
        return declared("exams.two", writes, frames, rows_in=1)

    # The second frame misses a column of its contract: its write fails after the first commit.
    broken = spark.createDataFrame([(DAY, 3)], "event_date date, dau bigint")
    record = run(spark, tmp_path, job(broken))
    assert record.status == "failed"
    assert "events.daily_active_users: data does not match the contract" in record.error
    assert record.rolled_back == {CUTOFFS: 0}
    assert read(spark, tmp_path, CUTOFFS).count() == 0
