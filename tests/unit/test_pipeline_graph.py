"""The job graph is derived from declared inputs and outputs, testable without Spark."""

from __future__ import annotations

import pytest

from lakejobs.errors import AccountingError, UsageError
from lakejobs.job import Job, JobOutcome, RowCounts
from lakejobs.pipeline import execution_order, registry, select_jobs


def job(name: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Job:
    return Job(name, inputs, outputs, run=lambda ctx: JobOutcome(RowCounts(0, 0)), description="")


def test_producers_run_before_consumers_whatever_the_declaration_order():
    grade = job("exams.grade", ("exams.scores",), ("exams.grades",))
    ingest = job("exams.ingest_scores", ("raw.exam_scores",), ("exams.scores",))
    assert [j.name for j in execution_order([grade, ingest])] == [
        "exams.ingest_scores",
        "exams.grade",
    ]


def test_a_cycle_is_reported_with_its_path():
    a = job("x.a", ("exams.grades",), ("exams.scores",))
    b = job("x.b", ("exams.scores",), ("exams.grades",))
    with pytest.raises(UsageError, match=r"^job graph has a cycle: "):
        execution_order([a, b])


def test_a_job_cannot_write_a_table_without_a_contract():
    with pytest.raises(UsageError, match=r"^contract not found: .*exams\.nope\.json$"):
        job("exams.bad", ("raw.exam_scores",), ("exams.nope",))


def test_dataset_names_must_be_plain_identifiers():
    with pytest.raises(UsageError, match=r"^job exams.bad: invalid dataset name 'raw.x;drop'$"):
        job("exams.bad", ("raw.x;drop",), ())


def test_the_exams_domain_runs_ingest_then_grade():
    assert [j.name for j in select_jobs("exams")] == ["exams.ingest_scores", "exams.grade"]
    assert set(registry()) >= {"exams.ingest_scores", "exams.grade"}


def test_accounting_mismatch_names_every_number():
    with pytest.raises(AccountingError) as error:
        RowCounts(rows_in=10, written=6, quarantined=2, duplicates=1).check("exams.x")
    assert str(error.value) == (
        "exams.x: rows in 10 != written 6 + quarantined 2 + duplicates dropped 1 (9)"
    )
