"""What the CLI prints about a lake: its curated tables, the run log and the demo run's summary
(a domain adds its own tables to the summary, `lakejobs.domains.Demo`)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from lakejobs.domains import Demo


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


def quarantine_table(spark: SparkSession, settings: Settings, table: str, run_date: str) -> Table:
    """Rows of quarantine `table` (e.g. `<db>.<table>_quarantine`) per reason, for one date."""
    location = Catalog(spark, LakeLayout(settings.lake)).location(table_contract(table))
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
    shown = Table(title=f"Quarantine reasons ({run_date})")
    shown.add_column("reason")
    shown.add_column("rows", justify="right")
    for row in reasons:
        shown.add_row(row["reason"], f"{row['count']:,}")
    return shown


def print_demo_summary(
    spark: SparkSession, settings: Settings, result: PipelineResult, seconds: float, demo: Demo
) -> None:
    """The jobs table, the demo domain's own tables, the lake's tables and what to try next."""
    _console().print(_jobs_table(result))
    if not result.failed and not result.skipped:
        demo.summary(spark, settings, result)
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
    domain_commands = "".join(
        f"  .venv/bin/lakejobs {command}\n"
        for command in demo.next_commands(result_date(result), lake_arg)
    )
    _console().print(
        f"\nDemo finished in {seconds:.0f}s. The tables live under {settings.lake}/curated/<db>/"
        "<table> (Delta). Next, from this folder:\n"
        f"  .venv/bin/lakejobs tables{lake_arg}       # the list above{timings['tables']}\n"
        f"  .venv/bin/lakejobs runs{lake_arg}         # the run log{timings['runs']}\n"
        f"{domain_commands}"
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
