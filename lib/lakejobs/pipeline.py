"""Jobs ordered by their declared inputs and outputs, run with accounting and a run log.

The registry is filled by importing the `jobs` package; the order is derived from the datasets
jobs read and write, never written by hand, so the graph is testable without Spark.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from graphlib import CycleError, TopologicalSorter

from pyspark.sql import SparkSession
from pyspark.sql.types import Row

from lakejobs.config import Settings
from lakejobs.contracts import table_contract
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.job import Job, JobOutcome, RunContext
from lakejobs.tables import CuratedTables

RUN_LOG = "lakejobs.job_runs"
_REGISTRY: dict[str, Job] = {}


def register(job: Job) -> Job:
    """Add a job to the registry (done at import time by each job module)."""
    existing = _REGISTRY.get(job.name)
    if existing is not None and existing is not job:
        raise UsageError(f"two jobs are named {job.name}")
    _REGISTRY[job.name] = job
    return job


def registry() -> dict[str, Job]:
    """All jobs, importing every module under the `jobs` package once."""
    import jobs

    for module in pkgutil.walk_packages(jobs.__path__, prefix="jobs."):
        importlib.import_module(module.name)
    return dict(_REGISTRY)


def execution_order(selected: Iterable[Job]) -> list[Job]:
    """Jobs sorted so that every job runs after the jobs producing its inputs."""
    selected = list(selected)
    producers = {output: job.name for job in selected for output in job.outputs}
    graph = {
        job.name: {producers[i] for i in job.inputs if i in producers and producers[i] != job.name}
        for job in selected
    }
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise UsageError(f"job graph has a cycle: {' -> '.join(exc.args[1])}") from None
    by_name = {job.name: job for job in selected}
    return [by_name[name] for name in order]


def select_jobs(target: str) -> list[Job]:
    """A job by name (`exams.grade`) or every job of a domain (`exams`), in execution order."""
    jobs = registry()
    if target in jobs:
        return [jobs[target]]
    chosen = [job for job in jobs.values() if job.domain == target]
    if not chosen:
        domains = sorted({job.domain for job in jobs.values()})
        raise UsageError(
            f"unknown job or domain {target!r} (domains: {', '.join(domains)}; "
            f"jobs: {', '.join(sorted(jobs))})"
        )
    return execution_order(chosen)


@dataclass
class RunRecord:
    """One row of the run log."""

    run_id: str
    job: str
    run_date: date
    params: Mapping[str, str]
    status: str = "running"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    outcome: JobOutcome | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float:
        end = self.finished_at or datetime.now(UTC)
        return (end - self.started_at).total_seconds()

    def as_row(self) -> Row:
        counts = self.outcome.counts if self.outcome else None
        return Row(
            run_id=self.run_id,
            job=self.job,
            run_date=self.run_date,
            params=json.dumps(dict(self.params), sort_keys=True),
            status=self.status,
            started_at=self.started_at.replace(tzinfo=None),
            finished_at=(self.finished_at or datetime.now(UTC)).replace(tzinfo=None),
            duration_s=round(self.duration_s, 3),
            rows_in=counts.rows_in if counts else None,
            rows_written=counts.written if counts else None,
            rows_quarantined=counts.quarantined if counts else None,
            rows_duplicates=counts.duplicates if counts else None,
            output_versions=(
                {c.table: c.version for c in self.outcome.commits} if self.outcome else None
            ),
            error=self.error,
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    return message if isinstance(exc, LakejobsError) else f"{type(exc).__name__}: {message}"


def new_run_id(job: str, run_date: date) -> str:
    return f"{job}@{run_date.isoformat()}#{uuid.uuid4().hex[:8]}"


Echo = Callable[[str], None]


def _default_echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_job(
    spark: SparkSession,
    settings: Settings,
    job: Job,
    run_date: date,
    params: Mapping[str, str] | None = None,
    echo: Echo = _default_echo,
    debug: bool = False,
) -> RunRecord:
    """Run one job: time it, check its row accounting, record it in the run log."""
    params = dict(params or {})
    record = RunRecord(new_run_id(job.name, run_date), job.name, run_date, params)
    ctx = RunContext(spark, settings, run_date, record.run_id, params)
    echo(f"▶ {job.name} for {run_date.isoformat()} (run {record.run_id})")
    spark.sparkContext.setJobGroup(record.run_id, f"lakejobs {job.name} {run_date}")
    started = time.perf_counter()
    try:
        outcome = job.run(ctx)
        record.outcome = outcome
        outcome.counts.check(job.name)
        record.status = "succeeded"
    except Exception as exc:  # recorded, reported, and re-raised by the caller's policy
        record.status = "failed"
        record.error = _one_line(exc)
        if debug:
            traceback.print_exc()
    finally:
        record.finished_at = datetime.now(UTC)
        _append_run_log(spark, settings, record)
    elapsed = time.perf_counter() - started
    if record.status == "succeeded":
        echo(f"✔ {job.name} in {elapsed:.1f}s: {describe_outcome(record.outcome)}")
    else:
        echo(f"✘ {job.name} failed after {elapsed:.1f}s: {record.error}")
    return record


def describe_outcome(outcome: JobOutcome | None) -> str:
    if outcome is None:
        return "no outcome"
    c = outcome.counts
    versions = ", ".join(f"{commit.table} v{commit.version}" for commit in outcome.commits)
    return (
        f"in {c.rows_in:,} = written {c.written:,} + quarantined {c.quarantined:,} "
        f"+ duplicates {c.duplicates:,}  [{versions}]"
    )


def _append_run_log(spark: SparkSession, settings: Settings, record: RunRecord) -> None:
    from lakejobs.lake import LakeLayout

    contract = table_contract(RUN_LOG)
    tables = CuratedTables(spark, LakeLayout(settings.lake))
    frame = spark.createDataFrame([record.as_row()], schema=contract.schema)
    tables.append(contract, frame)


@dataclass(frozen=True)
class PipelineResult:
    records: tuple[RunRecord, ...]
    skipped: tuple[str, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(r.job for r in self.records if r.status != "succeeded")


def run_jobs(
    spark: SparkSession,
    settings: Settings,
    selected: list[Job],
    run_date: date,
    params: Mapping[str, str] | None = None,
    echo: Echo = _default_echo,
    debug: bool = False,
) -> PipelineResult:
    """Run jobs in dependency order; a failed job's downstream jobs are skipped, others go on."""
    records: list[RunRecord] = []
    skipped: list[str] = []
    broken: set[str] = set()
    for job in execution_order(selected):
        if broken & set(job.inputs):
            echo(
                f"↷ {job.name} skipped: an input failed upstream ({', '.join(broken & set(job.inputs))})"
            )
            skipped.append(job.name)
            broken.update(job.outputs)
            continue
        record = run_job(spark, settings, job, run_date, params, echo, debug)
        records.append(record)
        if record.status != "succeeded":
            broken.update(job.outputs)
    return PipelineResult(tuple(records), tuple(skipped))
