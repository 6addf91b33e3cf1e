"""What the CLI prints about a lake: its curated tables and the demo run's summary."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from rich.console import Console
from rich.table import Table

from lakejobs import inspect, runlog
from lakejobs.catalog import Catalog
from lakejobs.config import Settings
from lakejobs.contracts import all_table_contracts, table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import PipelineResult


def _console() -> Console:
    """A terminal gets its own width; a log file or pipe gets lines wide enough to stay whole."""
    return Console(width=None if sys.stdout.isatty() else 160)


def tables_overview(spark: SparkSession, settings: Settings) -> list[tuple[str, int, int, str]]:
    """(name, rows, Delta version, last run) for every curated table present in the lake."""
    tables = Catalog(spark, LakeLayout(settings.lake))
    last_runs: dict[str, str] = {}
    log = runlog.read_runs(Catalog(spark, LakeLayout(settings.lake)))
    if log is not None:
        latest = (
            log.select("job", "status", "finished_at", F.explode("output_versions").alias("t", "v"))
            .groupBy("t")
            .agg(F.max_by(F.struct("finished_at", "job", "status"), "finished_at").alias("last"))
            .collect()
        )
        for row in latest:
            last = row["last"]
            last_runs[row["t"]] = (
                f"{last['job']} {last['status']} {last['finished_at']:%Y-%m-%d %H:%M}"
            )
    overview = []
    for contract in all_table_contracts():
        if not tables.exists(contract):
            continue
        tables.ensure(contract)
        rows = spark.read.format("delta").load(tables.location(contract)).count()
        version = tables.last_commit(contract).version
        assert version is not None, f"{contract.name}: an existing Delta table has a commit"
        overview.append((contract.name, rows, version, last_runs.get(contract.name, "-")))
    return overview


def print_runs(spark: SparkSession, settings: Settings, run_date: date | None = None) -> None:
    """The run log through Spark (lakes on HDFS/S3), latest row per run, newest first."""
    log = runlog.read_runs(Catalog(spark, LakeLayout(settings.lake)))
    runs: list[dict[str, Any]] = []
    if log is not None:
        if run_date is not None:
            log = log.where(F.col("run_date") == F.lit(run_date))
        runs = inspect.latest_per_run(r.asDict() for r in log.collect())
    _console().print(
        inspect.runs_table(inspect.runs_title(settings, run_date), runs[: inspect.RUNS_SHOWN])
    )


def print_tables(spark: SparkSession, settings: Settings) -> None:
    overview = [inspect.TableInfo(*row) for row in tables_overview(spark, settings)]
    _console().print(inspect.tables_table(settings, overview))


def _jobs_table(result: PipelineResult) -> Table:
    table = Table(title="Jobs")
    for column in ("job", "status", "seconds", "rows in", "written", "quarantined", "duplicates"):
        table.add_column(column, justify="left" if column in ("job", "status") else "right")
    for record in result.records:
        counts = record.outcome.counts if record.outcome else None
        numbers = (
            [
                f"{counts.rows_in:,}",
                f"{counts.written:,}",
                f"{counts.quarantined:,}",
                f"{counts.duplicates:,}",
            ]
            if counts
            else ["-"] * 4
        )
        table.add_row(record.job, record.status, f"{record.duration_s:.1f}", *numbers)
    return table


def _quarantine_table(spark: SparkSession, settings: Settings, run_date: str) -> Table:
    location = Catalog(spark, LakeLayout(settings.lake)).location(
        table_contract("exams.scores_quarantine")
    )
    reasons = (
        spark.read.format("delta")
        .load(location)
        .where(F.col("ingest_date") == run_date)
        .select(F.explode("reasons").alias("reason"))
        .groupBy("reason")
        .count()
        .orderBy(F.desc("count"))
        .collect()
    )
    table = Table(title=f"Quarantine reasons ({run_date})")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for row in reasons:
        table.add_row(row["reason"], f"{row['count']:,}")
    return table


def cutoff_table(spark: SparkSession, exam_id: str | None = None) -> Table:
    """Grade cut-offs of one exam: lowest score reaching each grade, per subject."""
    cutoffs = spark.table("exams.grade_cutoffs")
    exam_id = exam_id or cutoffs.agg(F.min("exam_id")).collect()[0][0]  # a global agg: one row
    rows = cutoffs.where(F.col("exam_id") == exam_id).collect()
    subjects = sorted({r["subject"] for r in rows})
    grades = sorted({r["grade"] for r in rows})
    cell = {(r["subject"], r["grade"]): r for r in rows}
    table = Table(title=f"Grade cut-offs for {exam_id}: lowest score reaching each grade (share)")
    table.add_column("grade", justify="right")
    for subject in subjects:
        table.add_column(subject, justify="right")
    for grade in grades:
        values = []
        for subject in subjects:
            r = cell.get((subject, grade))
            values.append(f"{r['min_score']:g} ({r['share']:.0%})" if r else "-")
        table.add_row(str(grade), *values)
    return table


def print_demo_summary(
    spark: SparkSession, settings: Settings, result: PipelineResult, seconds: float
) -> None:
    from lakejobs.catalog import register_lake

    register_lake(spark, settings.lake, databases=["exams"])  # the cut-off table reads by name
    _console().print(_jobs_table(result))
    if not result.failed and not result.skipped:
        run_date = result.records[0].run_date.isoformat()
        _console().print(_quarantine_table(spark, settings, run_date))
        _console().print(cutoff_table(spark))
    lake_arg = _lake_argument(settings)
    timings = {"tables": "", "runs": ""}
    if settings.lake_is_local:
        for command in timings:  # run as a person would, to show they need no JVM
            seconds_taken, output = _timed_command(command, settings)
            if command == "tables":
                sys.stdout.write(output)
            timings[command] = f", {seconds_taken:.1f}s here, no JVM"
    else:
        print_tables(spark, settings)
    _console().print(
        f"\nDemo finished in {seconds:.0f}s. The tables live under {settings.lake}/curated/<db>/"
        "<table> (Delta). Next, from this folder:\n"
        f"  .venv/bin/lakejobs tables{lake_arg}       # the list above{timings['tables']}\n"
        f"  .venv/bin/lakejobs runs{lake_arg}         # the run log{timings['runs']}\n"
        f"  .venv/bin/lakejobs quarantine exams.scores --date {result_date(result)}{lake_arg}\n"
        f'  .venv/bin/lakejobs sql "SELECT subject, grade, count(*) AS n FROM exams.grades '
        f'GROUP BY 1, 2 ORDER BY 1, 2"{lake_arg}\n'
        f"  .venv/bin/lakejobs shell{lake_arg}        # Python with `spark` and the tables by name",
        soft_wrap=True,
    )


def _timed_command(command: str, settings: Settings) -> tuple[float, str]:
    """Wall time and output of `lakejobs <command> --lake <lake>` in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lakejobs.cli", command, "--lake", settings.lake],
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - started, done.stdout if done.returncode == 0 else done.stderr


def result_date(result: PipelineResult) -> str:
    return result.records[0].run_date.isoformat() if result.records else "YYYY-MM-DD"


def _lake_argument(settings: Settings) -> str:
    """` --lake <path>` as a person would type it here (relative when under the cwd)."""
    if not settings.lake_is_local:
        return f" --lake {settings.lake}"
    path = settings.local_lake_path
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return f" --lake {shlex.quote(shown)}"
