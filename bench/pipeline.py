"""Pipeline benchmark: raw CSV files -> exams.scores -> grades and reports, as nightly runs it.

    .venv/bin/python bench/pipeline.py --rows 1e7

(a) lakejobs: the exams domain (`exams.ingest_scores`, then `exams.grade`) through `run_jobs` on
    the raw delivery of bench/rawgen.py, in one session, from empty tables;
(b) DuckDB: the same ingest (bench/ingestsql.py), then grading with its best plan (the
    histogram SQL of bench/gradesql.py) and both reports, all as Parquet.
Wall and CPU seconds of each (lakejobs: JVM + this process; DuckDB: this process). The ingest
accounting of both must equal the delivery's, and both must give the same grade histogram per
(exam, subject, grade) (bench/grading.py's cross-check), else exit 1. Last line:
`RESULT pipeline rows=N lakejobs_s=x lakejobs_cpu_s=c duckdb_s=y duckdb_cpu_s=d
ratio_vs_duckdb=x/y cpu_ratio_vs_duckdb=c/d`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import ingestsql
import rawgen
from benchkit import (
    DEFAULT_DATA_DIR,
    add_record_option,
    bench_settings,
    format_table,
    jvm_pid,
    machine_note,
    positive_rows,
    print_result,
    rows_label,
    start_spark,
)
from datagen import INGEST_DATE
from gradesql import check_sql, cutoffs_sql, graded_histogram_sql, school_report_sql
from grading import EngineResult, compare, spark_histogram, to_histogram
from ingest import Measured, check_accounting, cpu_ratio, measured, ratio, reset_outputs
from pyspark.sql import SparkSession

from jobs.exams.grading import get_scheme
from lakejobs.config import Settings
from lakejobs.pipeline import run_jobs, select_jobs

PARQUET = "(FORMAT parquet, COMPRESSION zstd)"


def run_lakejobs(
    spark: SparkSession, settings: Settings, dataset, scheme: str
) -> tuple[Measured, EngineResult | None]:
    reset_outputs(dataset)
    with measured(lambda: [jvm_pid(spark), os.getpid()]) as figures:
        result = run_jobs(
            spark,
            settings,
            select_jobs("exams"),
            INGEST_DATE,
            {"scheme": scheme},
            echo=lambda line: print(f"  lakejobs: {line}", flush=True),
            debug=True,
            force=True,
        )
    if result.failed or result.skipped or len(result.records) != 2:
        errors = "; ".join(f"{r.job}: {r.error}" for r in result.records if r.error)
        return Measured("lakejobs", "failed", note=errors or "not every job ran"), None
    counts = result.records[0].outcome.counts
    accounting = ingestsql.Accounting(
        counts.rows_in, counts.written, counts.quarantined, counts.duplicates
    )
    grades = spark.read.format("delta").load(str(dataset.lake / "curated" / "exams" / "grades"))
    histogram = EngineResult("lakejobs", "ok", histogram=spark_histogram(grades))
    return Measured("lakejobs", "ok", figures["seconds"], figures["cpu"], accounting), histogram


def run_duckdb(dataset, scheme: str) -> tuple[Measured, EngineResult]:
    out = dataset.directory / "out" / "duckdb_pipeline"
    shutil.rmtree(out, ignore_errors=True)
    con = ingestsql.connect(out / "spill")
    grading_scheme = get_scheme(scheme)
    grades = out / "grades.parquet"
    written = f"read_parquet('{grades}')"
    with measured(lambda: [os.getpid()]) as figures:
        accounting = ingestsql.ingest(con, rawgen.raw_dir(dataset), out)
        graded = graded_histogram_sql(ingestsql.scores_source(out), grading_scheme, '"')
        con.execute(f"COPY ({graded}) TO '{grades}' {PARQUET}")
        cutoffs = cutoffs_sql(written, grading_scheme)
        con.execute(f"COPY ({cutoffs}) TO '{out / 'cutoffs.parquet'}' {PARQUET}")
        report = school_report_sql(written, grading_scheme)
        con.execute(f"COPY ({report}) TO '{out / 'school_report.parquet'}' {PARQUET}")
    histogram = to_histogram(con.execute(check_sql(written, '"')).fetchall())
    con.close()
    return (
        Measured("duckdb", "ok", figures["seconds"], figures["cpu"], accounting),
        EngineResult("duckdb", "ok", histogram=histogram),
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time the exams pipeline from raw CSV files to grades and reports: lakejobs' two "
            "jobs against DuckDB doing the same; cross-check accounting and grades."
        ),
        epilog="Example: .venv/bin/python bench/pipeline.py --rows 1e7",
    )
    parser.add_argument("--rows", type=positive_rows, required=True, help="raw lines, e.g. 1e7")
    parser.add_argument("--seed", type=int, default=1, help="data generator seed (default 1)")
    parser.add_argument("--scheme", default="csat9", help="grading scheme (default csat9)")
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="cache root (default bench/data)"
    )
    parser.add_argument("--skip-duckdb", action="store_true", help="do not run DuckDB")
    add_record_option(parser)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    dataset = rawgen.raw_dataset(args.data_dir, args.rows, args.seed)
    settings = bench_settings(dataset.lake, args.data_dir / "eventlog")
    spark = start_spark(settings, "bench-pipeline")
    expected = rawgen.ensure_raw(spark, dataset)
    lakejobs, lakejobs_grades = run_lakejobs(spark, settings, dataset, args.scheme)
    spark.stop()
    if lakejobs.status != "ok" or lakejobs_grades is None:
        print(f"lakejobs' exams pipeline failed: {lakejobs.note}", file=sys.stderr)
        return 1
    if args.skip_duckdb:
        duckdb, duckdb_grades = Measured("duckdb", "skipped", note="--skip-duckdb"), None
    else:
        duckdb, duckdb_grades = run_duckdb(dataset, args.scheme)
    results = (lakejobs, duckdb)
    rows = [
        [
            r.engine,
            r.value(r.seconds),
            r.value(r.cpu_seconds),
            f"{dataset.rows / r.seconds:,.0f}" if r.status == "ok" and r.seconds else "",
            str(r.accounting) if r.accounting else r.note,
        ]
        for r in results
    ]
    print(
        f"\npipeline (ingest + grade), {dataset.rows:,} raw lines ({rows_label(dataset.rows)}); "
        f"{machine_note(load_at_start)}"
    )
    print(format_table(["engine", "seconds", "cpu_s", "lines/s", "ingest accounting"], rows))
    problems = check_accounting(results, expected)
    if duckdb_grades is not None:
        problems += [f"duckdb: {p}" for p in compare(lakejobs_grades, duckdb_grades)]
    if problems:
        print("\nCROSS-CHECK FAILED:", *problems[:20], sep="\n  ", file=sys.stderr)
        return 1
    print("\ncross-check passed: accounting equals the delivery's, grade histograms identical")
    print_result(
        f"RESULT pipeline rows={dataset.rows} lakejobs_s={lakejobs.seconds:.2f} "
        f"lakejobs_cpu_s={lakejobs.cpu_seconds:.2f} duckdb_s={duckdb.value(duckdb.seconds)} "
        f"duckdb_cpu_s={duckdb.value(duckdb.cpu_seconds)} "
        f"ratio_vs_duckdb={ratio(lakejobs.seconds, duckdb)} cpu_ratio_vs_duckdb={cpu_ratio(lakejobs, duckdb)}",
        args.record,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
