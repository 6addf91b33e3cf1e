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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from graphlib import CycleError, TopologicalSorter

from pyspark.sql import SparkSession

from lakejobs import runlog
from lakejobs.catalog import Catalog
from lakejobs.config import Settings
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.job import Job, JobOutcome, ParamValue, RunContext
from lakejobs.lake import LakeLayout
from lakejobs.locks import refusal, run_lock

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
    """Jobs sorted so that every job runs after the jobs producing its inputs.

    Among jobs ready at the same time, names decide (`static_order` follows set order, which
    changes between processes with hash randomisation): the same selection, the same order.
    """
    selected = list(selected)
    producers = {output: job.name for job in selected for output in job.outputs}
    graph = {
        job.name: {producers[i] for i in job.inputs if i in producers and producers[i] != job.name}
        for job in selected
    }
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise UsageError(f"job graph has a cycle: {' -> '.join(exc.args[1])}") from None
    order: list[str] = []
    ready = sorted(sorter.get_ready())
    while ready:
        name = ready.pop(0)
        order.append(name)
        sorter.done(name)
        ready = sorted((*ready, *sorter.get_ready()))
    by_name = {job.name: job for job in selected}
    return [by_name[name] for name in order]


def resolve_params(
    selected: Iterable[Job], given: Mapping[str, str], settings: Settings
) -> dict[str, dict[str, ParamValue]]:
    """Each job's typed params; a key no selected job declares is an error (a typo, or a param
    of a job not selected), so nothing runs with a silently ignored value."""
    selected = list(selected)
    declared = {p.name for job in selected for p in job.params}
    unknown = sorted(set(given) - declared)
    if unknown:
        takes = ", ".join(sorted(declared)) or "no params"
        raise UsageError(f"unknown --param {', '.join(unknown)} (the selected jobs take: {takes})")
    return {
        job.name: job.resolve_params(
            {k: v for k, v in given.items() if k in {p.name for p in job.params}}, settings
        )
        for job in selected
    }


def preflight(
    selected: Iterable[Job], given: Mapping[str, str], settings: Settings
) -> dict[str, dict[str, ParamValue]]:
    """What can be checked without data, before Spark starts: params, then each job's own
    checks (secrets). Returns the resolved params; raises `UsageError`. (The CLI checks that a
    local lake exists; an HDFS/S3 lake is reachable only through Hadoop, i.e. once Spark runs.)"""
    selected = list(selected)
    resolved = resolve_params(selected, given, settings)
    for job in selected:
        for check in job.preflight:
            check(settings)
    return resolved


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


@contextmanager
def _one_at_a_time(
    catalog: Catalog, settings: Settings, job: Job, run_date: date
) -> Iterator[None]:
    """Hold the job+date guard for the run, after marking dead runs abandoned.

    A local lake uses an OS lock (`lakejobs.locks`); other lakes have none, so a live
    `running` row of the same job and date in the run log refuses the run instead (racy).
    """
    runlog.mark_abandoned(catalog)
    guard: AbstractContextManager[None]
    if settings.lake_is_local:
        guard = run_lock(settings.local_lake_path, job.name, run_date)
    else:
        holder = runlog.running_elsewhere(catalog, job.name, run_date)
        if holder is not None:
            raise refusal(job.name, run_date, *holder)
        guard = nullcontext()
    with guard:
        yield


def run_job(
    spark: SparkSession,
    settings: Settings,
    job: Job,
    run_date: date,
    params: Mapping[str, str] | None = None,
    echo: Echo = _default_echo,
    debug: bool = False,
    force: bool = False,
    catalog: Catalog | None = None,
) -> runlog.RunRecord | None:
    """Run one job: time it, check its row accounting, record it in the run log.

    `params` is the `--param` text; the job's declared params are resolved from it (typed,
    defaults filled in) and are part of the skip key. Returns None when the job is skipped
    because the latest successful run for the same date read the same inputs with the same
    params (unless `force`). Raises `RunRefused` when another live process runs the same job
    and date: a refused run is not a run, so it leaves no row in the run log. `catalog` is the
    pipeline run's, shared by its jobs (a new one for the lake by default).
    """
    resolved = job.resolve_params(dict(params or {}), settings)
    catalog = catalog if catalog is not None else Catalog(spark, LakeLayout(settings.lake))
    with _one_at_a_time(catalog, settings, job, run_date):
        inputs = runlog.input_versions(catalog, job, run_date)
        if not force:
            earlier = runlog.previous_success(catalog, job.name, run_date, inputs, resolved)
            if earlier:
                echo(
                    f"⏭ {job.name} for {run_date.isoformat()}: done by {earlier} on the same "
                    "inputs and params (--force re-runs it)"
                )
                return None
        record = runlog.RunRecord(
            new_run_id(job.name, run_date), job.name, run_date, resolved, inputs
        )
        runlog.start(catalog, record)  # from here on, the run has a row
        return _execute(catalog, settings, job, record, echo, debug)


def _execute(
    catalog: Catalog,
    settings: Settings,
    job: Job,
    record: runlog.RunRecord,
    echo: Echo,
    debug: bool,
) -> runlog.RunRecord:
    """Run the job of a started `record` and write its final row, whatever happens."""
    spark = catalog.spark
    ctx = RunContext(catalog, settings, record.run_date, record.run_id, record.params)
    echo(f"▶ {job.name} for {record.run_date.isoformat()} (run {record.run_id})")
    spark.sparkContext.setJobGroup(record.run_id, f"lakejobs {job.name} {record.run_date}")
    started = time.perf_counter()
    before = ctx.catalog.versions(job.output_contracts)  # what a failed run is rolled back to
    try:
        outcome = job.run(ctx)
        record.outcome = outcome
        outcome.counts.check(job.name)
        record.status = runlog.SUCCEEDED
    except Exception as exc:  # recorded and reported; the caller decides what fails
        record.status = runlog.FAILED
        record.error = _one_line(exc)
        if debug:
            traceback.print_exc()
        _roll_back(ctx, job, before, record)
    except BaseException as exc:  # Ctrl-C, SystemExit: the row says so, then it goes on up
        record.status = runlog.FAILED
        record.error = f"interrupted: {_one_line(exc)}"
        _roll_back(ctx, job, before, record)
        raise
    finally:
        record.finished_at = datetime.now(UTC)
        runlog.finish(catalog, record)
        # Spark work done after this run (the next job, a notebook cell) is not this run's.
        for key in ("spark.jobGroup.id", "spark.job.description"):
            # None removes the property (Spark's API), though pyspark's hint says str.
            spark.sparkContext.setLocalProperty(key, None)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    if record.status == runlog.SUCCEEDED:
        echo(f"✔ {job.name} in {elapsed:.1f}s: {describe_outcome(record.outcome)}")
    else:
        echo(f"✘ {job.name} failed after {elapsed:.1f}s: {record.error}")
    return record


def _roll_back(
    ctx: RunContext, job: Job, before: Mapping[str, int | None], record: runlog.RunRecord
) -> None:
    """A failed run changes nothing: restore the outputs it committed; the error says which."""
    try:
        record.rolled_back = ctx.writer.roll_back(job.output_contracts, before, record.run_id)
    except Exception as exc:  # the run's own error stays the one reported
        record.error = f"{record.error or 'failed'}; rolling back failed: {_one_line(exc)}"
        return
    if record.rolled_back:
        restored = ", ".join(f"{t} to v{v}" for t, v in sorted(record.rolled_back.items()))
        record.error = f"{record.error or 'failed'} (rolled back: {restored})"


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

    Jobs that already succeeded on the same inputs and params are skipped, so re-running the
    same command after a failure resumes where it stopped. `params` are checked against every
    selected job before the first one starts. A job refused because another process runs it
    (`RunRefused`) stops the pipeline: the jobs done so far keep their rows.
    """
    resolve_params(selected, dict(params or {}), settings)  # a bad key fails before any job
    catalog = Catalog(spark, LakeLayout(settings.lake))  # one for all the jobs of this run
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
        own = {k: v for k, v in (params or {}).items() if k in {p.name for p in job.params}}
        record = run_job(spark, settings, job, run_date, own, echo, debug, force, catalog)
        if record is None:
            up_to_date.append(job.name)
            continue
        records.append(record)
        if record.status != "succeeded":
            broken.update(job.outputs)
    return PipelineResult(tuple(records), tuple(skipped), tuple(up_to_date))
