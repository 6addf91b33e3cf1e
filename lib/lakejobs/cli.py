"""`lakejobs` command line: generate, run, backfill, maintain, tables, runs, jobs, quarantine,
sql, shell, demo, report, serve.

Bad arguments print one line and exit 2; a failed job prints its reason and exits 1; Python
tracebacks appear only with --debug. Progress lines go to stderr as plain text; the Spark/JVM log
goes to a file (`Settings.log_dir`), named on failure, and to the console only with --debug.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from lakejobs import domains
from lakejobs.config import Settings
from lakejobs.console import (
    UsageParser,
    add_common_options,
    echo,
    open_session,
    parse_param,
    print_log_file,
    report_error,
    settings_from,
)
from lakejobs.errors import UsageError
from lakejobs.lake import parse_date

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakejobs.job import Job
    from lakejobs.pipeline import PipelineResult

DEMO_DATE = "2026-11-20"
DEMO_ROWS = 1_000_000


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _require_local_lake(settings: Settings) -> None:
    if settings.lake_is_local and not settings.local_lake_path.is_dir():
        raise UsageError(
            f"lake not found: {settings.local_lake_path} (create it with "
            f"`lakejobs generate exams --lake {settings.local_lake_path} --date YYYY-MM-DD`)"
        )


def cmd_generate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not settings.lake_is_local:
        raise UsageError(
            "generate writes to a local lake; copy it to HDFS/S3 with distcp or aws s3 cp"
        )
    run_date = parse_date(args.date)
    chosen = domains.generated_domains() if args.domain == "all" else (args.domain,)
    lake_dir = settings.local_lake_path
    for domain in chosen:
        print(domains.generate(domain, lake_dir, run_date, rows=args.rows, seed=args.seed))
    return 0


def _run(
    settings: Settings, target: str, run_date: date, args: argparse.Namespace
) -> tuple[SparkSession, PipelineResult]:
    from lakejobs.pipeline import preflight, run_jobs, select_jobs

    selected = select_jobs(target, settings.jobs_package)
    params = dict(getattr(args, "param", None) or [])
    preflight(selected, params, settings)  # params, secrets: before the JVM starts
    _require_local_lake(settings)
    spark = open_session(args, settings)
    force = bool(getattr(args, "force", False))
    return spark, run_jobs(
        spark, settings, selected, run_date, params, echo=echo, debug=args.debug, force=force
    )


def _exit_code(args: argparse.Namespace, result: PipelineResult) -> int:
    if result.failed or result.skipped:
        failed = ", ".join(result.failed) or "none"
        skipped = ", ".join(result.skipped) or "none"
        echo(f"lakejobs: failed: {failed}; skipped after a failure: {skipped}")
        print_log_file(args.log_file)
        return 1
    return 0


SUMMARY_HEADERS = (
    "date",
    "job",
    "status",
    "s",
    "in",
    "written",
    "quar.",
    "dups",
    "versions written",
    "error",
)


def summary_rows(day: date, result: PipelineResult) -> list[tuple[str, ...]]:
    """Pure: one summary row per job of one date's `PipelineResult` (runs, skips, up to date)."""
    rows: list[tuple[str, ...]] = []
    for record in result.records:
        counts = record.outcome.counts if record.outcome else None
        numbers: tuple[str, ...] = ("-",) * 4
        if counts is not None:
            values = (counts.rows_in, counts.written, counts.quarantined, counts.duplicates)
            numbers = tuple(f"{v:,}" for v in values)
        commits = record.outcome.commits if record.outcome else ()
        versions = ", ".join(f"{c.table} v{c.version}" for c in commits) or "-"
        timing = f"{record.duration_s:.1f}"
        error = record.error or ""
        rows.append((day.isoformat(), record.job, record.status, timing, *numbers, versions, error))
    for job in result.up_to_date:
        rows.append((day.isoformat(), job, "up to date", *("-",) * 6, ""))
    for job in result.skipped:
        rows.append((day.isoformat(), job, "skipped", *("-",) * 6, "an input failed upstream"))
    return rows


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Pure: a plain-text table (no markup, never wrapped) that reads the same in a log file."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    numeric = {"s", "in", "written", "quar.", "dups"}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(cell).rjust(w) if h in numeric else str(cell).ljust(w)
            for cell, w, h in zip(cells, widths, headers, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _print_summary(rows: list[tuple[str, ...]]) -> None:
    if rows:
        echo("\n" + format_table(SUMMARY_HEADERS, rows))


def cmd_run(args: argparse.Namespace) -> int:
    run_date = parse_date(args.date)
    settings = settings_from(args)
    _, result = _run(settings, args.target, run_date, args)
    _print_summary(summary_rows(run_date, result))
    return _exit_code(args, result)


def delivered_jobs(selected: Sequence[Job], delivered: set[str]) -> tuple[list[Job], list[Job]]:
    """Pure: the jobs of `selected` that can run on a date whose delivered raw sources are
    `delivered` (`raw.<source>` names), and the jobs left out.

    A job with raw inputs runs when at least one of them has files; a job reading a table that a
    left-out job of the selection produces is left out too (its input has nothing new).
    """
    kept: list[Job] = []
    left_out: list[Job] = []
    missing_outputs: set[str] = set()
    for job in selected:
        raw = [i for i in job.inputs if i.startswith("raw.")]
        if (raw and not set(raw) & delivered) or set(job.inputs) & missing_outputs:
            left_out.append(job)
            missing_outputs.update(job.outputs)
        else:
            kept.append(job)
    return kept, left_out


def cmd_backfill(args: argparse.Namespace) -> int:
    from lakejobs.lake import HadoopFS, LakeLayout
    from lakejobs.pipeline import run_jobs, select_jobs

    first, last = parse_date(args.date_from, "--from"), parse_date(args.date_to, "--to")
    if last < first:
        raise UsageError(f"--to {last} is before --from {first}")
    dates = [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal() + 1)]
    settings = settings_from(args)
    selected = select_jobs(args.target, settings.jobs_package)
    _require_local_lake(settings)
    spark = open_session(args, settings)
    fs, layout = HadoopFS(spark), LakeLayout(settings.lake)
    sources = sorted({i for job in selected for i in job.inputs if i.startswith("raw.")})
    failures: list[str] = []
    rows: list[tuple[str, ...]] = []
    for number, day in enumerate(dates, start=1):
        jobs = selected
        if not args.all_dates:
            delivered = {s for s in sources if fs.list_files(layout.raw_dir(s[4:], day))}
            jobs, left_out = delivered_jobs(selected, delivered)
            if left_out:
                missing = ", ".join(s for s in sources if s not in delivered)
                names = "all jobs" if not jobs else ", ".join(j.name for j in left_out)
                echo(
                    f"backfill {number}/{len(dates)} {day}: skipping {names}: no raw files for "
                    f"{missing} (--all-dates runs them anyway)"
                )
                rows += [
                    (day.isoformat(), j.name, "not delivered", *("-",) * 6, "") for j in left_out
                ]
            if not jobs:
                continue
        echo(f"backfill {number}/{len(dates)} {day}: {', '.join(j.name for j in jobs)}")
        result = run_jobs(
            spark,
            settings,
            jobs,
            day,
            dict(args.param or []),
            echo=echo,
            debug=args.debug,
            force=args.force,
        )
        rows += summary_rows(day, result)
        failures += [f"{job}@{day}" for job in (*result.failed, *result.skipped)]
    _print_summary(rows)
    if failures:
        echo(f"lakejobs: backfill incomplete: {', '.join(failures)}")
        print_log_file(args.log_file)
        return 1
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from lakejobs.maintenance import maintain

    settings = settings_from(args)
    _require_local_lake(settings)
    echo(
        f"maintain {settings.lake}: OPTIMIZE + VACUUM (time travel kept {settings.retention_days} "
        f"days), quarantine kept {settings.quarantine_days} days"
    )
    results = maintain(open_session(args, settings), settings, echo=echo)
    failed = [r.table for r in results if r.error]
    if failed:
        echo(f"lakejobs: maintain failed for: {', '.join(failed)} (run it again)")
        print_log_file(args.log_file)
        return 1
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from lakejobs import graph
    from lakejobs.pipeline import select_jobs

    jobs = select_jobs(args.target)
    if args.format == "png":
        out = Path(args.out or "lakejobs-graph.png")
        print(f"wrote {graph.render_png(jobs, out)}")
        return 0
    text = {"mermaid": graph.to_mermaid, "dot": graph.to_dot, "json": graph.to_json}[args.format](
        jobs
    )
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    _require_local_lake(settings)
    run_date = parse_date(args.date) if args.date else None
    if settings.lake_is_local:  # read the Delta log directly: no JVM (lakejobs.inspect)
        from lakejobs.inspect import print_runs

        print_runs(settings, run_date)
        return 0
    from lakejobs.report import print_runs as print_runs_spark

    print_runs_spark(open_session(args, settings), settings, run_date)
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    _require_local_lake(settings)
    if settings.lake_is_local:  # read the Delta logs directly: no JVM (lakejobs.inspect)
        from lakejobs.inspect import print_tables

        print_tables(settings)
        return 0
    from lakejobs.report import print_tables as print_tables_spark

    print_tables_spark(open_session(args, settings), settings)
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from lakejobs.inspect import print_jobs

    settings = settings_from(args)
    print_jobs(settings, as_json=args.format == "json")
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from lakejobs.inspect import print_quarantine, read_quarantine

    ingest_date = parse_date(args.date)
    settings = settings_from(args)
    _require_local_lake(settings)
    print_quarantine(read_quarantine(settings, args.table, ingest_date, samples=args.samples))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from lakejobs.shell import run_sql

    if not args.query.strip():
        raise UsageError("the query is empty")
    settings = settings_from(args)
    _require_local_lake(settings)
    sys.stdout.write(run_sql(settings, args.query, args.format))
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    from lakejobs.shell import interact

    settings = settings_from(args)
    _require_local_lake(settings)
    interact(settings)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from lakejobs.report import print_demo_summary

    demo = domains.demo()
    if demo is None:
        raise UsageError(f"no domain of the {domains.jobs_package()!r} package offers a demo")
    args.date = args.date or DEMO_DATE
    args.seed = 7
    args.domain = demo.domain
    started = time.perf_counter()
    cmd_generate(args)
    settings = settings_from(args)
    args.force = True  # the demo re-runs even when nothing changed, to show the whole pipeline
    spark, result = _run(settings, demo.domain, parse_date(args.date), args)
    print_demo_summary(spark, settings, result, time.perf_counter() - started, demo)
    return _exit_code(args, result)


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (off) or more, got {text}")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    from lakejobs.serve import ServeOptions, serve

    options = ServeOptions(
        host=args.host,
        port=args.port,
        rescan_seconds=args.rescan,
        authenticate=not args.insecure_no_auth,
    )
    settings = settings_from(args)
    _require_local_lake(settings)
    serve(settings, options, echo=lambda line: print(line, flush=True))
    return 0


def _version() -> str:
    """The installed package's version (pyproject.toml), or `unknown` from a bare source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lakejobs")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = UsageParser(
        prog="lakejobs",
        description="Run lakejobs Spark jobs: raw lake files → validated, graded Delta tables.",
        epilog="Examples:\n  lakejobs demo\n  lakejobs generate exams --lake lake --date 2026-11-20\n"
        "  lakejobs run exams --lake lake --date 2026-11-20\n  lakejobs tables --lake lake",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lakejobs {_version()}")
    parser.set_defaults(log_file=None)  # set by `open_session`
    sub = parser.add_subparsers(dest="command", required=True, parser_class=UsageParser)

    run = sub.add_parser(
        "run", help="run a job (exams.grade) or a domain's jobs (exams) for a date"
    )
    run.add_argument("target", help="job name (e.g. exams.grade) or domain (e.g. exams)")
    run.add_argument("--date", required=True, help="ingest date to process, YYYY-MM-DD")
    run.add_argument(
        "--param",
        action="append",
        type=parse_param,
        metavar="KEY=VALUE",
        help="job parameter, e.g. scheme=hs5 (repeatable)",
    )
    run.add_argument(
        "--force", action="store_true", help="re-run jobs that already succeeded on the same inputs"
    )
    add_common_options(run)
    run.set_defaults(handler=cmd_run)

    backfill = sub.add_parser("backfill", help="run a job, domain or nightly over a date range")
    backfill.add_argument("target", help="job, domain or nightly")
    backfill.add_argument("--from", dest="date_from", required=True, help="first date, YYYY-MM-DD")
    backfill.add_argument("--to", dest="date_to", required=True, help="last date, YYYY-MM-DD")
    backfill.add_argument("--param", action="append", type=parse_param, metavar="KEY=VALUE")
    backfill.add_argument("--force", action="store_true", help="re-run jobs already done")
    delivery = backfill.add_mutually_exclusive_group()
    delivery.add_argument(
        "--only-delivered",
        dest="all_dates",
        action="store_false",
        help="(default) per date, run only the jobs whose raw inputs have files, and say which "
        "were left out",
    )
    delivery.add_argument(
        "--all-dates",
        dest="all_dates",
        action="store_true",
        help="run every selected job on every date, delivered or not",
    )
    backfill.set_defaults(all_dates=False)
    add_common_options(backfill)
    backfill.set_defaults(handler=cmd_backfill)

    graph = sub.add_parser("graph", help="draw jobs and tables (raw -> curated) from the code")
    graph.add_argument("target", nargs="?", default="nightly", help="job, domain or nightly")
    graph.add_argument("--format", choices=["mermaid", "dot", "json", "png"], default="mermaid")
    graph.add_argument("--out", help="write to this file instead of stdout (png: required name)")
    graph.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    graph.set_defaults(handler=cmd_graph)

    runs = sub.add_parser("runs", help="show the run log: status, durations, rows, versions")
    runs.add_argument("--date", help="only runs for this date, YYYY-MM-DD")
    add_common_options(runs)
    runs.set_defaults(handler=cmd_runs)

    gen = sub.add_parser("generate", help="write a realistic, slightly dirty raw delivery")
    gen.add_argument(
        "domain", choices=[*domains.generated_domains(), "all"], help="which raw data to generate"
    )
    gen.add_argument("--date", required=True, help="ingest date of the delivery, YYYY-MM-DD")
    gen.add_argument(
        "--rows", type=_positive_int, default=DEMO_ROWS, help="data lines (default 1e6)"
    )
    gen.add_argument("--seed", type=int, default=7, help="random seed (same seed, same files)")
    add_common_options(gen)
    gen.set_defaults(handler=cmd_generate)

    maintain = sub.add_parser(
        "maintain",
        help="OPTIMIZE and VACUUM every curated table, trim the quarantine (the nightly's last step)",
        description="Compact every curated table, VACUUM files older than the profile's "
        "retention_days (time travel to the last retention_days keeps working, older versions "
        "do not) and delete quarantine rows whose ingest date is older than quarantine_days. "
        "Run it after the nightly, e.g. `lakejobs run nightly --date D && lakejobs maintain`.",
    )
    add_common_options(maintain)
    maintain.set_defaults(handler=cmd_maintain)

    tables = sub.add_parser("tables", help="list curated tables: rows, Delta version, last run")
    add_common_options(tables)
    tables.set_defaults(handler=cmd_tables)

    jobs = sub.add_parser(
        "jobs", help="list jobs: inputs, outputs, declared params, last run (no JVM)"
    )
    jobs.add_argument("--format", choices=["table", "json"], default="table")
    add_common_options(jobs)
    jobs.set_defaults(handler=cmd_jobs)

    quarantine = sub.add_parser(
        "quarantine",
        help="why rows of a table were quarantined on a date: counts by reason, raw records",
    )
    quarantine.add_argument("table", help="curated table, e.g. exams.scores")
    quarantine.add_argument("--date", required=True, help="ingest date, YYYY-MM-DD")
    quarantine.add_argument(
        "--samples", type=_positive_int, default=5, help="raw records to show (default 5)"
    )
    add_common_options(quarantine)
    quarantine.set_defaults(handler=cmd_quarantine)

    sql = sub.add_parser(
        "sql",
        help="run a SQL query on the lake's tables (by name) and print the answer",
        description="Start the library's SparkSession with a private in-memory catalog, "
        "register every Delta table of the lake as <db>.<table>, run the query and print its "
        "rows: an aligned table (first 1,000 rows), or every row as csv or json.",
    )
    sql.add_argument("query", help='e.g. "SELECT subject, count(*) FROM exams.grades GROUP BY 1"')
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    add_common_options(sql)
    sql.set_defaults(handler=cmd_sql)

    shell = sub.add_parser(
        "shell",
        help="interactive Python (IPython if installed) with `spark` and the lake's tables",
    )
    add_common_options(shell)
    shell.set_defaults(handler=cmd_shell)

    domains.add_commands(
        domains.CommandKit(
            sub, add_common_options, settings_from, _require_local_lake, open_session
        )
    )

    serve = sub.add_parser(
        "serve",
        help="serve every curated table over JDBC/ODBC (Spark Thrift Server) for BI tools",
        description="Start the Spark Thrift Server (HiveServer2 protocol) with Delta and the "
        "profile's conf. Every Delta table under <lake>/curated/<db>/<table> is registered by "
        "name at start (and every --rescan seconds). With the default embedded-Derby metastore "
        "the server keeps a private in-memory one, so it and the nightly jobs never fight over "
        "the lake's Derby. Clients log in with $LAKEJOBS_BI_USER and $LAKEJOBS_BI_PASSWORD "
        "(both required) and may only read tables. Connect with "
        "hive://USER:PASSWORD@HOST:PORT/default?auth=CUSTOM (SQLAlchemy/PyHive, Superset) or "
        "jdbc:hive2://HOST:PORT/default (user and password). "
        "Stop with Ctrl-C or SIGTERM. See docs/bi.md.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; the protocol has no TLS here: "
        "expose it only behind a tunnel or a TLS proxy)",
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="start without $LAKEJOBS_BI_USER/$LAKEJOBS_BI_PASSWORD: anyone who reaches the "
        "port can read every table (still read-only)",
    )
    serve.add_argument("--port", type=_port, default=10000, help="port (default 10000)")
    serve.add_argument(
        "--rescan",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="look for new tables this often (default 0: only at start; new data in known "
        "tables is always visible)",
    )
    add_common_options(serve)
    serve.set_defaults(handler=cmd_serve)

    offered = domains.demo()
    pipeline = f"the {offered.domain}" if offered else "a domain's"
    demo = sub.add_parser(
        "demo", help=f"generate a sample lake, run {pipeline} pipeline, summarise"
    )
    demo.add_argument("--date", help=f"ingest date (default {DEMO_DATE})")
    demo.add_argument("--rows", type=_positive_int, default=DEMO_ROWS, help="rows to generate")
    add_common_options(demo)
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("lakejobs: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every error becomes one line and an exit code
        return report_error(exc, "--debug" in argv, args.log_file if args else None)


if __name__ == "__main__":
    sys.exit(main())
