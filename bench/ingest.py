"""Ingest benchmark: raw CSV delivery -> exams.scores + quarantine, against DuckDB and a floor.

    .venv/bin/python bench/ingest.py --rows 1e7

On the same raw files (bench/rawgen.py: N lines in plain .csv files, ~2 % dirty, cached):
(a) lakejobs: the real job `exams.ingest_scores` through `run_job` (reader, row rules, GX table
    rules, quarantine commit, MERGE into exams.scores, run log), into empty output tables;
(b) DuckDB: its CSV reader with the same checks, dedupe and Parquet output (bench/ingestsql.py);
(c) spark_floor: Spark's plain CSV reader writing the lines as Parquet, no checks: what parsing
    and writing cost in this Spark, the floor under anything lakejobs can do.
Each engine's wall time and CPU seconds (lakejobs and the floor: the JVM and this process; DuckDB:
this process, it runs in-process) are printed with rows/s; lakejobs' and DuckDB's accounting must
both equal the generator's (`_expected.json`), else the bench exits 1. The last line is
`RESULT ingest rows=N lakejobs_s=x lakejobs_cpu_s=c duckdb_s=y duckdb_cpu_s=d spark_floor_s=f
ratio_vs_duckdb=x/y cpu_ratio_vs_duckdb=c/d`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import ingestsql
import rawgen
from benchkit import (
    DEFAULT_DATA_DIR,
    add_record_option,
    bench_settings,
    cpu_seconds,
    format_table,
    jvm_pid,
    machine_note,
    positive_rows,
    print_result,
    process_tree,
    rows_label,
    start_spark,
)
from datagen import INGEST_DATE, Dataset
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.exams.ingest_scores import JOB as INGEST
from lakejobs.config import Settings
from lakejobs.pipeline import run_job
from lakejobs.runlog import RunRecord

RUN_LOG = "lakejobs.job_runs"
REDELIVERY_DATE = INGEST_DATE + timedelta(days=1)
SCORE_KEY = ("exam_id", "subject", "student_id")
WARMUP_ROWS = 10_000


@dataclass
class Measured:
    """One engine's timed run: status ok | skipped | failed, wall and CPU seconds, accounting."""

    engine: str
    status: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    accounting: ingestsql.Accounting | None = None
    note: str = ""

    def value(self, figure: float) -> str:
        return f"{figure:.2f}" if self.status == "ok" else self.status


@contextmanager
def measured(roots: Callable[[], Sequence[int]]) -> Iterator[dict[str, float]]:
    """Wall and CPU seconds of the process trees under `roots` for the body of the block."""
    figures: dict[str, float] = {}
    cpu_before = cpu_seconds(process_tree(roots()))
    started = time.perf_counter()
    try:
        yield figures
    finally:
        figures["seconds"] = time.perf_counter() - started
        figures["cpu"] = cpu_seconds(process_tree(roots())) - cpu_before


def reset_outputs(dataset: Dataset) -> None:
    """Remove what an earlier run wrote into the bench lake: every run starts from empty tables."""
    shutil.rmtree(dataset.lake / "curated", ignore_errors=True)
    shutil.rmtree(dataset.directory / "out", ignore_errors=True)


def timed_ingest(
    spark: SparkSession, settings: Settings, day: date, label: str
) -> tuple[RunRecord | None, dict[str, float]]:
    """The real exams.ingest_scores job for `day` (forced), with its wall and CPU seconds."""
    with measured(lambda: [jvm_pid(spark), os.getpid()]) as figures:
        record = run_job(
            spark,
            settings,
            INGEST,
            day,
            echo=lambda line: print(f"  {label}: {line}", flush=True),
            debug=True,
            force=True,
        )
    return record, figures


def run_lakejobs(spark: SparkSession, settings: Settings, dataset: Dataset) -> Measured:
    reset_outputs(dataset)
    record, figures = timed_ingest(spark, settings, INGEST_DATE, "lakejobs")
    if record is None or record.status != "succeeded" or record.outcome is None:
        error = "skipped as already done" if record is None else record.error or ""
        return Measured("lakejobs", "failed", note=error)
    c = record.outcome.counts
    accounting = ingestsql.Accounting(c.rows_in, c.written, c.quarantined, c.duplicates)
    return Measured("lakejobs", "ok", figures["seconds"], figures["cpu"], accounting)


@dataclass(frozen=True)
class Redelivery:
    """A corrected re-delivery of a share of the curated keys and what its MERGE rewrote."""

    keys: int
    seconds: float
    cpu_seconds: float
    metrics: dict[str, int]
    files_before: int
    bytes_before: int

    def line(self) -> str:
        m = self.metrics
        return (
            f"re-delivery of {self.keys:,} keys ({REDELIVERY_DATE}): {self.seconds:.1f} s, "
            f"{self.cpu_seconds:.1f} CPU-s; the MERGE removed {m['numTargetFilesRemoved']:,} of "
            f"{self.files_before:,} files ({m['numTargetBytesRemoved']:,} of "
            f"{self.bytes_before:,} bytes), added {m['numTargetFilesAdded']:,} files "
            f"({m['numTargetBytesAdded']:,} bytes), copied {m['numTargetRowsCopied']:,} "
            f"unchanged rows"
        )


def write_redelivery(spark: SparkSession, dataset: Dataset, share: float) -> int:
    """A raw delivery for REDELIVERY_DATE: every 1/share-th key of exams.scores (by a hash of
    the key, so spread over all files as school corrections of random students would be),
    each with its score changed; returns the number of keys."""
    scores = spark.read.format("delta").load(str(dataset.lake / "curated" / "exams" / "scores"))
    picked = scores.where(F.pmod(F.xxhash64(*SCORE_KEY), F.lit(round(1 / share))) == 0)
    changed = picked.withColumn("score", F.pmod(F.col("score") + 1, F.lit(101)))
    target = dataset.lake / "raw" / rawgen.RAW_SOURCE / f"ingest_date={REDELIVERY_DATE}"
    changed.select(*rawgen.HEADER).write.mode("overwrite").option("header", True).csv(str(target))
    return spark.read.option("header", True).csv(str(target)).count()


def run_redelivery(
    spark: SparkSession, settings: Settings, dataset: Dataset, share: float
) -> Redelivery:
    """After the first delivery: re-deliver `share` of its keys, corrected, and read from the
    MERGE's own Delta metrics which files and bytes it rewrote (the delivery is untimed)."""
    keys = write_redelivery(spark, dataset, share)
    table = DeltaTable.forPath(spark, str(dataset.lake / "curated" / "exams" / "scores"))
    detail = table.detail().first()
    record, figures = timed_ingest(spark, settings, REDELIVERY_DATE, "re-delivery")
    if record is None or record.status != "succeeded":
        raise SystemExit(f"the re-delivery run failed: {record.error if record else 'skipped'}")
    redelivered = table.toDF().where(F.col("ingest_date") == F.lit(REDELIVERY_DATE)).count()
    if redelivered != keys or record.outcome is None or record.outcome.counts.written != keys:
        raise SystemExit(f"the re-delivery of {keys:,} keys left {redelivered:,} rows of its date")
    merge = next(r for r in table.history(4).collect() if r["operation"] == "MERGE")
    metrics = {k: int(v) for k, v in merge["operationMetrics"].items()}
    return Redelivery(
        keys,
        figures["seconds"],
        figures["cpu"],
        metrics,
        int(detail["numFiles"]),
        int(detail["sizeInBytes"]),
    )


def run_spark_floor(spark: SparkSession, dataset: Dataset) -> Measured:
    target = dataset.directory / "out" / "spark_floor"
    with measured(lambda: [jvm_pid(spark), os.getpid()]) as figures:
        lines = spark.read.option("header", True).csv(str(rawgen.raw_dir(dataset)))
        lines.write.mode("overwrite").parquet(str(target))
    rows = spark.read.parquet(str(target)).count()
    return Measured("spark_floor", "ok", figures["seconds"], figures["cpu"], note=f"{rows:,} rows")


def run_duckdb(dataset: Dataset) -> Measured:
    out = dataset.directory / "out" / "duckdb"
    shutil.rmtree(out, ignore_errors=True)
    con = ingestsql.connect(out / "spill")
    with measured(lambda: [os.getpid()]) as figures:
        accounting = ingestsql.ingest(con, rawgen.raw_dir(dataset), out)
    con.close()
    return Measured("duckdb", "ok", figures["seconds"], figures["cpu"], accounting)


def warm_up(spark: SparkSession, settings: Settings, data_dir: Path, seed: int) -> None:
    """The Spark engines once on a small delivery of their own, untimed (class loading, JIT)."""
    small = rawgen.raw_dataset(data_dir, WARMUP_ROWS, seed)
    rawgen.ensure_raw(spark, small)
    print(f"warming up on {small.rows:,} lines (untimed)", flush=True)
    run_lakejobs(spark, _on_lake(settings, small), small)
    run_spark_floor(spark, small)


def _on_lake(settings: Settings, dataset: Dataset) -> Settings:
    return dataclasses.replace(settings, lake=str(dataset.lake))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time lakejobs' exams.ingest_scores job from raw CSV files against DuckDB doing the "
            "same checks, dedupe and Parquet output, and Spark's plain CSV-to-Parquet floor; "
            "check that the accounting agrees; print a table and a final RESULT line."
        ),
        epilog="Example: .venv/bin/python bench/ingest.py --rows 1e7",
    )
    parser.add_argument("--rows", type=positive_rows, required=True, help="raw lines, e.g. 1e7")
    parser.add_argument("--seed", type=int, default=1, help="data generator seed (default 1)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where the raw delivery, the bench lake and outputs live (default bench/data)",
    )
    parser.add_argument("--cold", action="store_true", help="skip the untimed warm-up run")
    parser.add_argument("--skip-duckdb", action="store_true", help="do not run DuckDB")
    parser.add_argument(
        "--redeliver",
        type=float,
        metavar="SHARE",
        help="after the ingest, re-deliver this share of the keys corrected (e.g. 0.01) and "
        "report the files and bytes its MERGE rewrote (RESULT redelivery ...)",
    )
    add_record_option(parser)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    return args


def check_accounting(results: Sequence[Measured], expected: rawgen.Expected) -> list[str]:
    """Every engine that counts must report the generator's accounting exactly."""
    problems = []
    for result in results:
        if result.accounting is not None and result.accounting.as_tuple() != expected.as_tuple():
            problems.append(
                f"{result.engine}: {result.accounting} but the delivery has "
                f"{ingestsql.Accounting(*expected.as_tuple())}"
            )
    return problems


def print_report(
    rows: int, results: Sequence[Measured], expected: rawgen.Expected, load_at_start: float
) -> None:
    duckdb = next(r for r in results if r.engine == "duckdb")
    table = []
    for r in results:
        ratio = (
            f"{r.seconds / duckdb.seconds:.2f}"
            if r.status == "ok" and duckdb.status == "ok" and duckdb.seconds
            else ""
        )
        table.append(
            [
                r.engine,
                r.value(r.seconds),
                r.value(r.cpu_seconds),
                f"{rows / r.seconds:,.0f}" if r.status == "ok" and r.seconds else "",
                ratio,
                str(r.accounting) if r.accounting else r.note,
            ]
        )
    print(f"\ningest, {rows:,} raw lines ({rows_label(rows)}); {machine_note(load_at_start)}")
    print(f"expected: {ingestsql.Accounting(*expected.as_tuple())}  {expected.by_kind}")
    header = ["engine", "seconds", "cpu_s", "rows/s", "x duckdb", "accounting"]
    print(format_table(header, table))


def ratio(a: float, b: Measured) -> str:
    return f"{a / b.seconds:.2f}" if b.status == "ok" and b.seconds else "n/a"


def cpu_ratio(a: Measured, b: Measured) -> str:
    """CPU seconds of `a` over those of `b`, or n/a when `b` did not run."""
    return f"{a.cpu_seconds / b.cpu_seconds:.2f}" if b.status == "ok" and b.cpu_seconds else "n/a"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    dataset = rawgen.raw_dataset(args.data_dir, args.rows, args.seed)
    settings = bench_settings(dataset.lake, args.data_dir / "eventlog")
    spark = start_spark(settings, "bench-ingest")
    expected = rawgen.ensure_raw(spark, dataset)
    if not args.cold:
        warm_up(spark, settings, args.data_dir, args.seed)
    results = [run_lakejobs(spark, settings, dataset)]
    redelivery = None
    if args.redeliver and results[0].status == "ok":
        redelivery = run_redelivery(spark, settings, dataset, args.redeliver)
    results.append(run_spark_floor(spark, dataset))
    spark.stop()
    if args.skip_duckdb:
        results.append(Measured("duckdb", "skipped", note="--skip-duckdb"))
    else:
        results.append(run_duckdb(dataset))
    print_report(dataset.rows, results, expected, load_at_start)
    if results[0].status != "ok":
        print(f"lakejobs' exams.ingest_scores failed: {results[0].note}", file=sys.stderr)
        return 1
    problems = check_accounting(results, expected)
    if problems:
        print("\nACCOUNTING DIFFERS:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    counted = ", ".join(r.engine for r in results if r.accounting is not None)
    print(f"\naccounting agrees with the delivery: {counted}")
    if redelivery is not None:
        m = redelivery.metrics
        print(redelivery.line())
        print_result(
            f"RESULT redelivery rows={dataset.rows} keys={redelivery.keys} "
            f"seconds={redelivery.seconds:.2f} cpu_s={redelivery.cpu_seconds:.2f} "
            f"files_removed={m['numTargetFilesRemoved']} files_before={redelivery.files_before} "
            f"bytes_removed={m['numTargetBytesRemoved']} bytes_before={redelivery.bytes_before} "
            f"bytes_added={m['numTargetBytesAdded']}",
            args.record,
        )
    lakejobs, floor, duckdb = results
    print_result(
        f"RESULT ingest rows={dataset.rows} lakejobs_s={lakejobs.seconds:.2f} "
        f"lakejobs_cpu_s={lakejobs.cpu_seconds:.2f} duckdb_s={duckdb.value(duckdb.seconds)} "
        f"duckdb_cpu_s={duckdb.value(duckdb.cpu_seconds)} spark_floor_s={floor.seconds:.2f} "
        f"ratio_vs_duckdb={ratio(lakejobs.seconds, duckdb)} cpu_ratio_vs_duckdb={cpu_ratio(lakejobs, duckdb)}",
        args.record,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
