"""Jobs ordered by their declared inputs and outputs, run with accounting and a run log.

The registry discovers the jobs of a configured package (`Settings.jobs_package`); the order is
derived from the datasets jobs read and write, never written by hand, so the graph is testable
without Spark. Each run goes through `lakejobs.runner`; this module adds the guard against a
second run, the skip on same inputs, the rollback of a failed run and the run log.
"""

from __future__ import annotations

import dataclasses
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

from pyspark.sql import SparkSession

from lakejobs import runlog, runner
from lakejobs.catalog import Catalog
from lakejobs.config import DEFAULT_JOBS_PACKAGE, Settings
from lakejobs.errors import LakejobsError, UsageError
from lakejobs.graph import ordered
from lakejobs.job import Job, JobOutcome, ParamValue, RunContext
from lakejobs.lake import LakeLayout
from lakejobs.locks import refusal, run_lock

NIGHTLY = "nightly"


def registry(package: str = DEFAULT_JOBS_PACKAGE) -> dict[str, Job]:
    """Every `Job` defined at module level in `package` and its subpackages, by name.

    Jobs are found, not registered: importing a module has no effect on the library, and the
    library knows no job package but the one it is given (`Settings.jobs_package`). A job
    object imported into a second module is the same job; two jobs with one name are an error.
    """
    try:
        root = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        raise UsageError(f"jobs package {package!r} not found ({exc})") from None
    modules = [root]
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=f"{package}."):
        modules.append(importlib.import_module(info.name))
    found: dict[str, tuple[Job, str]] = {}
    for module in modules:
        for value in vars(module).values():
            if not isinstance(value, Job):
                continue
            seen = found.get(value.name)
            if seen is not None and seen[0] is not value:
                raise UsageError(
                    f"two jobs are named {value.name} (in {seen[1]} and {module.__name__})"
                )
            if seen is None:
                found[value.name] = (value, value.module or module.__name__)
    return {name: dataclasses.replace(job, module=module) for name, (job, module) in found.items()}


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


def select_jobs(target: str, package: str = DEFAULT_JOBS_PACKAGE) -> list[Job]:
    """A job (`exams.grade`), a domain's jobs (`exams`) or every job (`nightly`) of the jobs
    package, in order."""
    jobs = registry(package)
    if target == NIGHTLY:
        return ordered(jobs.values())
    if target in jobs:
        return [jobs[target]]
    chosen = [job for job in jobs.values() if job.domain == target]
    if not chosen:
        domains = sorted({job.domain for job in jobs.values()})
        raise UsageError(
            f"unknown job or domain {target!r} (domains: {', '.join(domains)}; "
            f"jobs: {', '.join(sorted(jobs))})"
        )
    return ordered(chosen)


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
        outcome = runner.execute(ctx, job)
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
    for job in ordered(selected):
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
