"""Jobs ordered by their declared inputs and outputs, run with accounting and a run log.

The registry is filled by importing the `jobs` package; the order is derived from the datasets
jobs read and write, never written by hand, so the graph is testable without Spark.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from graphlib import CycleError, TopologicalSorter

from pyspark.sql import SparkSession

from lakejobs import runlog
from lakejobs.config import Settings
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.job import Job, JobOutcome, RunContext

NIGHTLY = "nightly"
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
    """A job (`exams.grade`), a domain's jobs (`exams`) or every job (`nightly`), in order."""
    jobs = registry()
    if target == NIGHTLY:
        return execution_order(jobs.values())
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
    force: bool = False,
) -> runlog.RunRecord | None:
    """Run one job: time it, check its row accounting, record it in the run log.

    Returns None when the job is skipped because an earlier run for the same date already
    succeeded on exactly the same inputs (unless `force`).
    """
    params = dict(params or {})
    inputs = runlog.input_versions(spark, settings, job, run_date)
    if not force:
        earlier = runlog.previous_success(spark, settings, job.name, run_date, inputs)
        if earlier:
            echo(
                f"⏭ {job.name} for {run_date.isoformat()}: done by {earlier} on the same inputs "
                "(--force re-runs it)"
            )
            return None
    record = runlog.RunRecord(new_run_id(job.name, run_date), job.name, run_date, params, inputs)
    ctx = RunContext(spark, settings, run_date, record.run_id, params)
    echo(f"▶ {job.name} for {run_date.isoformat()} (run {record.run_id})")
    spark.sparkContext.setJobGroup(record.run_id, f"lakejobs {job.name} {run_date}")
    started = time.perf_counter()
    before = ctx.tables.versions(job.output_contracts)  # what a failed run is rolled back to
    try:
        outcome = job.run(ctx)
        record.outcome = outcome
        outcome.counts.check(job.name)
        record.status = "succeeded"
    except Exception as exc:  # recorded and reported; the caller decides what fails
        record.status = "failed"
        record.error = _one_line(exc)
        if debug:
            traceback.print_exc()
        _roll_back(ctx, job, before, record)
    finally:
        record.finished_at = datetime.now(UTC)
        runlog.append(spark, settings, record)
        # Spark work done after this run (the next job, a notebook cell) is not this run's.
        for key in ("spark.jobGroup.id", "spark.job.description"):
            spark.sparkContext.setLocalProperty(key, None)
    elapsed = time.perf_counter() - started
    if record.status == "succeeded":
        echo(f"✔ {job.name} in {elapsed:.1f}s: {describe_outcome(record.outcome)}")
    else:
        echo(f"✘ {job.name} failed after {elapsed:.1f}s: {record.error}")
    return record


def _roll_back(
    ctx: RunContext, job: Job, before: Mapping[str, int | None], record: runlog.RunRecord
) -> None:
    """A failed run changes nothing: restore the outputs it committed; the error says which."""
    try:
        record.rolled_back = ctx.tables.roll_back(job.output_contracts, before, record.run_id)
    except Exception as exc:  # the run's own error stays the one reported
        record.error += f"; rolling back failed: {_one_line(exc)}"
        return
    if record.rolled_back:
        restored = ", ".join(f"{t} to v{v}" for t, v in sorted(record.rolled_back.items()))
        record.error += f" (rolled back: {restored})"


def describe_outcome(outcome: JobOutcome | None) -> str:
    if outcome is None:
        return "no outcome"
    c = outcome.counts
    versions = ", ".join(f"{commit.table} v{commit.version}" for commit in outcome.commits)
    return (
        f"in {c.rows_in:,} = written {c.written:,} + quarantined {c.quarantined:,} "
        f"+ duplicates {c.duplicates:,}  [{versions}]"
    )


@dataclass(frozen=True)
class PipelineResult:
    """What a pipeline run did: the runs made, jobs skipped after a failure, jobs up to date."""

    records: tuple[runlog.RunRecord, ...]
    skipped: tuple[str, ...]
    up_to_date: tuple[str, ...] = ()

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
    force: bool = False,
) -> PipelineResult:
    """Run jobs in dependency order; a failed job's downstream jobs are skipped, others go on.

    Jobs that already succeeded on the same inputs are skipped, so re-running the same command
    after a failure resumes where it stopped.
    """
    records: list[runlog.RunRecord] = []
    skipped: list[str] = []
    up_to_date: list[str] = []
    broken: set[str] = set()
    for job in execution_order(selected):
        failed_inputs = sorted(broken & set(job.inputs))
        if failed_inputs:
            echo(f"↷ {job.name} skipped: its input failed upstream ({', '.join(failed_inputs)})")
            skipped.append(job.name)
            broken.update(job.outputs)
            continue
        record = run_job(spark, settings, job, run_date, params, echo, debug, force)
        if record is None:
            up_to_date.append(job.name)
            continue
        records.append(record)
        if record.status != "succeeded":
            broken.update(job.outputs)
    return PipelineResult(tuple(records), tuple(skipped), tuple(up_to_date))
