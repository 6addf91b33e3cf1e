"""What the CLI prints about a lake: its curated tables and the demo run's summary."""

from __future__ import annotations

import sys
from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from rich.console import Console
from rich.table import Table

from lakejobs import runlog
from lakejobs.config import Settings
from lakejobs.contracts import all_table_contracts, table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import PipelineResult
from lakejobs.tables import CuratedTables


def _console() -> Console:
    """A terminal gets its own width; a log file or pipe gets lines wide enough to stay whole."""
    return Console(width=None if sys.stdout.isatty() else 160)


def tables_overview(spark: SparkSession, settings: Settings) -> list[tuple[str, int, int, str]]:
    """(name, rows, Delta version, last run) for every curated table present in the lake."""
    tables = CuratedTables(spark, LakeLayout(settings.lake))
    last_runs: dict[str, str] = {}
    log = runlog.read_runs(spark, settings)
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
        overview.append((contract.name, rows, version, last_runs.get(contract.name, "-")))
    return overview


def print_runs(spark: SparkSession, settings: Settings, run_date: date | None = None) -> None:
    """The run log as a table, newest first: status, duration, row accounting, versions."""
    log = runlog.read_runs(spark, settings)
    table = Table(title=f"Job runs in {settings.lake}" + (f" for {run_date}" if run_date else ""))
    headers = (
        "started",
        "job",
        "date",
        "status",
        "s",
        "in",
        "written",
        "quar.",
        "dups",
        "versions written",
        "error",
    )
    for header in headers:
        numeric = header in ("s", "in", "written", "quar.", "dups")
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    if log is not None:
        if run_date is not None:
            log = log.where(F.col("run_date") == F.lit(run_date))
        for r in log.orderBy(F.desc("started_at")).limit(200).collect():

            def number(value: int | None) -> str:
                return "-" if value is None else f"{value:,}"

            versions = ", ".join(
                f"{k} v{v}" for k, v in sorted((r["output_versions"] or {}).items())
            )
            table.add_row(
                f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                r["job"],
                str(r["run_date"]),
                r["status"],
                "-" if r["duration_s"] is None else f"{r['duration_s']:.1f}",  # running
                number(r["rows_in"]),
                number(r["rows_written"]),
                number(r["rows_quarantined"]),
                number(r["rows_duplicates"]),
                versions,
                r["error"] or "",
            )
    _console().print(table)


def print_tables(spark: SparkSession, settings: Settings) -> None:
    table = Table(title=f"Curated tables in {settings.lake}")
    for column in ("table", "rows", "version", "last run"):
        table.add_column(
            column, justify="right" if column in ("rows", "version") else "left", overflow="fold"
        )
    for name, rows, version, last in tables_overview(spark, settings):
        table.add_row(name, f"{rows:,}", str(version), last)
    _console().print(table)


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
    location = CuratedTables(spark, LakeLayout(settings.lake)).location(
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
    exam_id = exam_id or cutoffs.agg(F.min("exam_id")).first()[0]
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
    print_tables(spark, settings)
    lake = settings.lake
    _console().print(
        f"\nDemo finished in {seconds:.0f}s. The tables live under {lake}/curated/<db>/<table> "
        "(Delta); jobs use them by path, so no metastore is needed. Query them by name:\n"
        "  .venv/bin/pyspark  # then: from lakejobs.config import load_settings; "
        "from lakejobs.session import build_session; from lakejobs.catalog import register_lake\n"
        "  settings = load_settings(); spark = build_session(settings)\n"
        "  register_lake(spark, settings.lake)\n"
        '  spark.sql("SELECT subject, grade, count(*) FROM exams.grades GROUP BY 1, 2 ORDER BY 1, 2").show()\n'
        "or list them again with: .venv/bin/lakejobs tables"
    )
