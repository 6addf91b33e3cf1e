"""JVM-free answers about a lake: its tables, the run log, the jobs, the quarantine.

Why: these questions need a few hundred bytes from the Delta logs, and starting a JVM for them
took 30-60 s on a busy machine. delta-rs (`deltalake`) reads the logs and the small tables
directly: row counts come from the per-file statistics in the log, the run log and one date of
a quarantine table are read as Arrow. Nothing here imports pyspark or starts Java. Lakes on
HDFS or S3 are left to the Spark code paths of `lakejobs.report`.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from lakejobs.config import Settings
from lakejobs.errors import UsageError
from lakejobs.job import Job

if TYPE_CHECKING:
    from deltalake import DeltaTable

RUN_LOG = "lakejobs.job_runs"
RUNS_SHOWN = 200
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


def console() -> Console:
    """A terminal gets its own width; a log file or pipe gets lines wide enough to stay whole."""
    return Console(width=None if sys.stdout.isatty() else 160)


def local_curated_root(settings: Settings) -> Path:
    """`<lake>/curated` of a local lake; other lakes need Spark (the caller checks first)."""
    if not settings.lake_is_local:
        raise UsageError(
            f"{settings.lake}: reading without Spark works on local lakes; "
            "use `lakejobs sql` for HDFS or S3"
        )
    return settings.local_lake_path / "curated"


def table_dir(settings: Settings, name: str) -> Path:
    """The folder of curated table `<db>.<table>`; a malformed name is a usage error."""
    database, _, table = name.partition(".")
    if not (_IDENTIFIER.match(database) and _IDENTIFIER.match(table)):
        raise UsageError(f"invalid table name {name!r}: expected <db>.<table>, e.g. exams.scores")
    return local_curated_root(settings) / database / table


def find_tables(settings: Settings) -> list[str]:
    """Names of every Delta table under `<lake>/curated/<db>/<table>`, sorted."""
    root = local_curated_root(settings)
    names = {
        f"{log.parent.parent.name}.{log.parent.name}"
        for log in root.glob("*/*/_delta_log")
        if _IDENTIFIER.match(log.parent.parent.name) and _IDENTIFIER.match(log.parent.name)
    }
    return sorted(names)


def _open(path: Path) -> DeltaTable:
    from deltalake import DeltaTable

    return DeltaTable(str(path))


def _arrow_rows(
    path: Path, filters: list[tuple[str, str, Any]] | None = None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _open(path).to_pyarrow_table(filters=filters).to_pylist()
    return rows


@dataclass(frozen=True)
class TableInfo:
    """One curated table: rows (from the log's file statistics), Delta version, last run."""

    name: str
    rows: int
    version: int
    last_run: str


def _row_count(table: DeltaTable) -> int:
    """Rows of the current snapshot from the log's `numRecords`; files without statistics
    (not written by lakejobs) are counted by reading their Parquet footers."""
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=True))
    counts = actions.column("num_records").to_pylist() if actions.num_rows else []
    if all(c is not None for c in counts):
        return int(sum(counts))
    return int(table.to_pyarrow_dataset().count_rows())


def latest_per_run(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pure: one row per run_id, the latest state of each run (a run may log a `running` row
    first and its outcome later), newest start first."""

    def rank(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return (row.get("status") != "running", *_when(row.get("finished_at")))

    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept = latest.get(row["run_id"])
        if kept is None or rank(row) >= rank(kept):
            latest[row["run_id"]] = dict(row)
    return sorted(latest.values(), key=lambda r: _when(r.get("started_at")), reverse=True)


def _when(value: datetime | None) -> tuple[bool, Any]:
    """A sort key for optional timestamps: missing ones first, never compared with present ones
    (Delta gives timezone-aware values, which do not compare with a naive placeholder)."""
    return (value is not None, value or 0)


def read_runs(settings: Settings, run_date: date | None = None) -> list[dict[str, Any]]:
    """The run log, latest row per run, newest first; [] when nothing ran in this lake yet."""
    path = table_dir(settings, RUN_LOG)
    if not (path / "_delta_log").is_dir():
        return []
    rows = _arrow_rows(path)
    if run_date is not None:
        rows = [r for r in rows if r["run_date"] == run_date]
    return latest_per_run(rows)


def last_runs_by_table(runs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Pure: for each table, the latest run that wrote it, as `job status YYYY-MM-DD HH:MM`."""
    best: dict[str, Mapping[str, Any]] = {}
    for run in runs:
        for table in run.get("output_versions") or {}:
            kept = best.get(table)
            if kept is None or _when(run.get("finished_at")) > _when(kept.get("finished_at")):
                best[table] = run
    return {
        table: f"{run['job']} {run['status']} {run['finished_at']:%Y-%m-%d %H:%M}"
        for table, run in best.items()
    }


def _output_map(value: Any) -> dict[str, Any]:
    """Arrow gives a Delta map column as a list of (key, value) pairs."""
    if value is None:
        return {}
    return dict(value) if not isinstance(value, dict) else value


def tables_overview(settings: Settings) -> list[TableInfo]:
    """Every curated table of a local lake with rows, version and last run, without Spark."""
    runs = [
        {**r, "output_versions": _output_map(r["output_versions"])} for r in read_runs(settings)
    ]
    last = last_runs_by_table(runs)
    overview = []
    for name in find_tables(settings):
        table = _open(table_dir(settings, name))
        overview.append(TableInfo(name, _row_count(table), table.version(), last.get(name, "-")))
    return overview


def tables_table(settings: Settings, overview: Sequence[TableInfo]) -> Table:
    table = Table(title=f"Curated tables in {settings.lake}")
    for column in ("table", "rows", "version", "last run"):
        table.add_column(
            column, justify="right" if column in ("rows", "version") else "left", overflow="fold"
        )
    for info in overview:
        table.add_row(info.name, f"{info.rows:,}", str(info.version), info.last_run)
    return table


RUN_HEADERS = (
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


def runs_table(title: str, runs: Iterable[Mapping[str, Any]]) -> Table:
    """Pure: run-log rows (dicts with the `lakejobs.job_runs` columns) as a rich table."""
    table = Table(title=title)
    for header in RUN_HEADERS:
        numeric = header in ("s", "in", "written", "quar.", "dups")
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")

    def number(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    for r in runs:
        versions = ", ".join(
            f"{k} v{v}" for k, v in sorted(_output_map(r.get("output_versions")).items())
        )
        table.add_row(
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
            r["job"],
            str(r["run_date"]),
            r["status"],
            "-" if r.get("duration_s") is None else f"{r['duration_s']:.1f}",
            number(r.get("rows_in")),
            number(r.get("rows_written")),
            number(r.get("rows_quarantined")),
            number(r.get("rows_duplicates")),
            versions,
            r.get("error") or "",
        )
    return table


def runs_title(settings: Settings, run_date: date | None) -> str:
    return f"Job runs in {settings.lake}" + (f" for {run_date}" if run_date else "")


def print_runs(settings: Settings, run_date: date | None = None) -> None:
    runs = read_runs(settings, run_date)[:RUNS_SHOWN]
    console().print(runs_table(runs_title(settings, run_date), runs))


def print_tables(settings: Settings) -> None:
    console().print(tables_table(settings, tables_overview(settings)))


@dataclass(frozen=True)
class JobInfo:
    """A job as the code declares it, with its latest run in this lake (if any)."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: tuple[str, ...]
    description: str
    last_run: str


def declared_params(job: Job) -> tuple[str, ...]:
    """The parameters a job declares (`Job.params`) as `name:type`, sorted by name."""
    return tuple(f"{p.name}:{p.type}" for p in sorted(job.params, key=lambda p: p.name))


def jobs_overview(settings: Settings | None) -> list[JobInfo]:
    """Every registered job in dependency order; the last run needs a local lake with a log."""
    from lakejobs.graph import ordered
    from lakejobs.pipeline import registry

    runs = read_runs(settings) if settings is not None and settings.lake_is_local else []
    last: dict[str, Mapping[str, Any]] = {}
    for row in runs:  # newest first: the first row seen per job is its latest run
        last.setdefault(row["job"], row)
    infos = []
    for job in ordered(registry().values()):
        run = last.get(job.name)
        described = (
            f"{run['run_date']} {run['status']} ({run['started_at']:%Y-%m-%d %H:%M})"
            if run
            else "-"
        )
        first_line = (job.description or "").strip().splitlines()
        infos.append(
            JobInfo(
                job.name,
                tuple(job.inputs),
                tuple(job.outputs),
                declared_params(job),
                first_line[0] if first_line else "",
                described,
            )
        )
    return infos


def print_jobs(settings: Settings | None, as_json: bool = False) -> None:
    infos = jobs_overview(settings)
    if as_json:
        print(json.dumps([info.__dict__ for info in infos], indent=2, default=list))
        return
    table = Table(title="Jobs (in dependency order)")
    for column in ("job", "inputs", "outputs", "params", "last run"):
        table.add_column(column, overflow="fold")
    for info in infos:
        table.add_row(
            info.name,
            "\n".join(info.inputs),
            "\n".join(info.outputs),
            ", ".join(info.params) or "-",
            info.last_run,
        )
    console().print(table)


@dataclass(frozen=True)
class QuarantineSummary:
    """One date of a quarantine table: rows, rows per reason, and a few raw records."""

    table: str
    ingest_date: date
    rows: int
    reasons: list[tuple[str, int]]
    samples: list[dict[str, Any]]


def quarantine_table_name(name: str) -> str:
    """`exams.scores` and `exams.scores_quarantine` both mean the quarantine table."""
    return name if name.endswith("_quarantine") else f"{name}_quarantine"


def summarize_quarantine(
    table: str, ingest_date: date, rows: Sequence[Mapping[str, Any]], samples: int
) -> QuarantineSummary:
    """Pure: count rows per reason (a row may have several) and keep the first `samples`."""
    reasons = Counter(reason for row in rows for reason in row["reasons"] or ())
    ordered_rows = sorted(rows, key=lambda r: (r["source_file"], r["raw_record"]))
    kept = [
        {
            "reasons": list(r["reasons"] or ()),
            "source_file": r["source_file"],
            "raw": r["raw_record"],
        }
        for r in ordered_rows[:samples]
    ]
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    return QuarantineSummary(table, ingest_date, len(rows), ranked, kept)


def read_quarantine(
    settings: Settings, name: str, ingest_date: date, samples: int = 5
) -> QuarantineSummary:
    """The quarantine of `name` for one ingest date, read from that date's partition only."""
    table_dir(settings, name)  # a malformed name is reported as typed
    table = quarantine_table_name(name)
    path = table_dir(settings, table)
    if not (path / "_delta_log").is_dir():
        known = [t for t in find_tables(settings) if t.endswith("_quarantine")]
        raise UsageError(
            f"no quarantine table {table} in {settings.lake} "
            f"(known: {', '.join(t.removesuffix('_quarantine') for t in known) or 'none'})"
        )
    rows = _arrow_rows(path, filters=[("ingest_date", "=", ingest_date)])
    return summarize_quarantine(table, ingest_date, rows, samples)


def print_quarantine(summary: QuarantineSummary) -> None:
    out = console()
    out.print(f"{summary.table} for {summary.ingest_date}: {summary.rows:,} rows quarantined")
    reasons = Table()  # a row may have several reasons
    reasons.add_column("reason")
    reasons.add_column("rows", justify="right")
    for reason, count in summary.reasons:
        reasons.add_row(reason, f"{count:,}")
    out.print(reasons)
    if summary.samples:
        sample = Table(title=f"First {len(summary.samples)} raw records")
        for column in ("reasons", "source file", "raw record"):
            sample.add_column(column, overflow="fold")
        for row in summary.samples:
            sample.add_row(", ".join(row["reasons"]), Path(row["source_file"]).name, row["raw"])
        out.print(sample)
