"""Grading benchmark: lakejobs' real `exams.grade` job against three baselines, on the same rows.

    .venv/bin/python bench/grading.py --rows 1e6

(a) lakejobs: `run_job(spark, settings, jobs.exams.grade.JOB, date)` on a bench lake with the
    library's session (`local` profile, master local[2]): reads the Delta table exams.scores,
    writes exams.grades, exams.grade_cutoffs and exams.school_report as Delta, logs the run.
(b) DuckDB: the spec as window SQL (`gradesql`) over the Parquet files of exams.scores, grades
    and both reports written as Parquet (zstd).
(c) naive Spark: Window rank/count over (exam_id, subject) and a Python UDF for the grade,
    written as Parquet: the implementation users write first, slow on purpose.
(d) MariaDB (N <= 1e7): a private server, LOAD DATA LOCAL INFILE of a CSV export, then the same
    window SQL into an InnoDB table, under --mariadb-timeout.

Times exclude the JVM start and data generation, and include reading input and writing output.
Both Spark engines first run once, untimed, on a 1e4-row lake of their own (warm JVM; --cold
skips that). Every run starts from empty outputs.
Every engine that finished must produce the same grade histogram per (exam_id, subject, grade)
(plus matching sums of rank, percentile and standard score); otherwise the bench exits 1.
The last line is `RESULT grading rows=... lakejobs_s=... duckdb_s=... naive_spark_s=...
mariadb_s=... ratio_vs_duckdb=... peak_rss_gb=...`, where peak_rss_gb is the peak of the summed
RSS of the Spark JVM, its children (Python workers) and this Python process while lakejobs ran,
sampled from /proc every 0.2 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import mariadb_grading
from benchkit import (
    DEFAULT_DATA_DIR,
    PeakRss,
    Stopwatch,
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
from datagen import INGEST_DATE, WARMUP_ROWS, Dataset, ensure_small, exams_dataset, generate
from eventlog import Spill, task_spill
from gradesql import (
    SCORE_COLUMNS,
    check_sql,
    cutoffs_sql,
    graded_histogram_sql,
    graded_sql,
    school_report_sql,
)
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType

from jobs.exams.grade import JOB
from jobs.exams.grading import GradingScheme, get_scheme, grade
from lakejobs.catalog import Catalog
from lakejobs.config import Settings
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import run_job

# The run log every job run appends to (docs/design.md §2); reset with the outputs.
RUN_LOG = "lakejobs.job_runs"
# What a Spark JVM exits with after an OutOfMemoryError (org.apache.spark.util.SparkExitCode.OOM).
SPARK_OOM_EXIT_CODE = 52

Key = tuple[str, str, int]


@dataclass(frozen=True)
class GroupCheck:
    """The cross-check figures of one (exam_id, subject, grade)."""

    count: int
    rank_sum: int
    percentile_sum: float
    standard_score_sum: float


Histogram = dict[Key, GroupCheck]


@dataclass
class EngineResult:
    """One engine's run: status ok | timeout | skipped | failed, timings, its histogram."""

    engine: str
    status: str
    seconds: float | None = None
    steps: dict[str, float] = field(default_factory=dict)
    peak_rss_gb: float | None = None
    spill: Spill | None = None
    histogram: Histogram | None = None
    note: str = ""

    @property
    def value(self) -> str:
        """The figure for the RESULT line: seconds, or why there are none."""
        return f"{self.seconds:.2f}" if self.status == "ok" and self.seconds else self.status


def to_histogram(rows: Iterable[Sequence[object]]) -> Histogram:
    """Rows of `gradesql.check_sql` (from any engine) as comparable Python values."""
    return {
        (str(exam), str(subject), int(grade_)): GroupCheck(
            int(count), int(ranks), float(percentiles), float(standard_scores)
        )
        for exam, subject, grade_, count, ranks, percentiles, standard_scores in rows
    }


def spark_histogram(grades: DataFrame) -> Histogram:
    rows = (
        grades.groupBy("exam_id", "subject", "grade")
        .agg(
            F.count(F.lit(1)),
            F.sum("rank"),
            F.sum("percentile"),
            F.sum("standard_score"),
        )
        .collect()
    )
    return to_histogram(rows)


def compare(reference: EngineResult, other: EngineResult) -> list[str]:
    """Differences of `other` from `reference`. Counts and rank sums must be equal; percentile
    sums agree to float rounding; standard scores may differ by one rounding step (0.1) on rows
    that sit exactly on a .x5 boundary, so their sums get half a step of slack per row."""
    assert reference.histogram is not None and other.histogram is not None
    problems = []
    for key in sorted(set(reference.histogram) | set(other.histogram)):
        a, b = reference.histogram.get(key), other.histogram.get(key)
        where = f"{key[0]} {key[1]} grade {key[2]}"
        if a is None or b is None or a.count != b.count:
            problems.append(
                f"grade histogram differs at {where}: {reference.engine} "
                f"{a.count if a else 0} rows, {other.engine} {b.count if b else 0} rows"
            )
        elif a.rank_sum != b.rank_sum:
            problems.append(f"sum(rank) differs at {where}: {a.rank_sum} vs {b.rank_sum}")
        elif not math.isclose(a.percentile_sum, b.percentile_sum, rel_tol=1e-9, abs_tol=1e-6):
            problems.append(
                f"sum(percentile) differs at {where}: {a.percentile_sum} vs {b.percentile_sum}"
            )
        elif abs(a.standard_score_sum - b.standard_score_sum) > 0.05 * a.count + 1e-6:
            problems.append(
                f"sum(standard_score) differs at {where}: "
                f"{a.standard_score_sum} vs {b.standard_score_sum}"
            )
    return problems


def table_dir(dataset: Dataset, name: str) -> Path:
    contract = table_contract(name)
    return dataset.lake / "curated" / contract.database / contract.table


def reset_outputs(spark: SparkSession, dataset: Dataset) -> None:
    """Drop the job's output tables and the run log of `dataset`'s lake, so that every run
    writes fresh tables like the baselines do, and the lake follows the current contracts."""
    for name in (*JOB.outputs, RUN_LOG):
        spark.sql(f"DROP TABLE IF EXISTS {name}")
        shutil.rmtree(table_dir(dataset, name), ignore_errors=True)


def run_lakejobs(
    spark: SparkSession,
    settings: Settings,
    dataset: Dataset,
    scheme: GradingScheme,
    event_log: Path,
) -> EngineResult:
    roots = [jvm_pid(spark), os.getpid()]
    cpu_before = cpu_seconds(roots)
    since = time.time()
    with PeakRss(lambda: roots) as rss:
        started = time.perf_counter()
        record = run_job(
            spark,
            settings,
            JOB,
            INGEST_DATE,
            {"scheme": scheme.name},
            echo=lambda line: print(f"  lakejobs: {line}", flush=True),
            debug=True,
        )
        seconds = time.perf_counter() - started
    cpu = cpu_seconds(roots) - cpu_before
    spill = task_spill(spark, event_log, since, time.time())
    if record is None:  # the run log is reset before every run, so this is a bench bug
        return EngineResult("lakejobs", "failed", note="skipped by run_job as already done")
    if record.status != "succeeded":
        return EngineResult("lakejobs", "failed", note=record.error or "")
    grades = spark.read.format("delta").load(str(table_dir(dataset, "exams.grades")))
    return EngineResult(
        "lakejobs",
        "ok",
        seconds,
        peak_rss_gb=rss.gb,
        spill=spill,
        histogram=spark_histogram(grades),
        note=f"cpu {cpu:.1f}s, {seconds / dataset.rows * 1e6:.2f} us/row",
    )


def naive_grades(scores: DataFrame, scheme: GradingScheme) -> DataFrame:
    """The spec the way it is usually first written in Spark: windows sorting every group's
    rows, and a row-at-a-time Python UDF for the grade."""
    percents = list(scheme.cumulative_percent)

    def grade_of(rank: int, n: int) -> int:
        for k, percent in enumerate(percents, start=1):
            if Decimal(rank * 100) <= percent * n:
                return k
        return len(percents)

    # A plain `F.udf`, evaluated the way the session does by default (Arrow-batched on Spark
    # 4.2); naming it explicitly only skips pyspark's type-hint inference and its warning.
    arrow = scores.sparkSession.conf.get("spark.sql.execution.pythonUDF.arrow.enabled")
    grade_udf = F.udf(grade_of, IntegerType(), useArrow=arrow == "true")
    group = Window.partitionBy("exam_id", "subject")
    rank, n = F.col("rank"), F.col("n")
    lower = F.rank().over(group.orderBy("score")) - 1
    equal = F.count(F.lit(1)).over(Window.partitionBy("exam_id", "subject", "score"))
    mean, sd = F.avg("score").over(group), F.stddev_pop("score").over(group)
    return (
        scores.withColumn("n", F.count(F.lit(1)).over(group))
        .withColumn("rank", F.rank().over(group.orderBy(F.desc("score"))))
        .withColumn("percentile", F.lit(100.0) * (lower + F.lit(0.5) * equal) / n)
        .withColumn("grade", grade_udf(rank, n))
        .withColumn(
            "standard_score",
            F.when(sd == 0, F.lit(100.0)).otherwise(
                F.round(F.lit(100.0) + F.lit(20.0) * (F.col("score") - mean) / sd, 1)
            ),
        )
        .select(*SCORE_COLUMNS, "n", "rank", "percentile", "grade", "standard_score")
        .withColumn("scheme", F.lit(scheme.name))
    )


def run_naive_spark(
    spark: SparkSession, dataset: Dataset, scheme: GradingScheme, out: Path, event_log: Path
) -> EngineResult:
    target = str(out / "naive_spark" / "grades")
    roots = [jvm_pid(spark), os.getpid()]
    cpu_before = cpu_seconds(roots)
    since = time.time()
    with PeakRss(lambda: roots) as rss:
        started = time.perf_counter()
        scores = spark.read.format("delta").load(str(dataset.scores_dir))
        naive_grades(scores, scheme).write.mode("overwrite").parquet(target)
        seconds = time.perf_counter() - started
    cpu = cpu_seconds(process_tree(roots)) - cpu_before
    spill = task_spill(spark, event_log, since, time.time())
    histogram = spark_histogram(spark.read.parquet(target))
    return EngineResult(
        "naive_spark",
        "ok",
        seconds,
        peak_rss_gb=rss.gb,
        spill=spill,
        histogram=histogram,
        note=f"cpu {cpu:.1f}s",
    )


def run_naive_spark_or_failure(
    spark: SparkSession, dataset: Dataset, scheme: GradingScheme, out: Path, event_log: Path
) -> EngineResult:
    """The naive baseline, its failure recorded as a result: its windows buffer a whole
    (exam_id, subject) group, so at 1e8 rows it can run out of heap and take the session down."""
    try:
        return run_naive_spark(spark, dataset, scheme, out, event_log)
    except Exception as exc:  # recorded in the table and the RESULT line, not a bench failure
        text = str(exc)
        first_line = text.strip().splitlines()[0][:120] if text.strip() else type(exc).__name__
        out_of_memory = "OutOfMemoryError" in text or jvm_exit_code(spark) == SPARK_OOM_EXIT_CODE
        reason = "OutOfMemoryError (Java heap space)" if out_of_memory else first_line
        print(f"naive Spark failed: {reason}", file=sys.stderr, flush=True)
        return EngineResult("naive_spark", "failed", note=reason)


def jvm_exit_code(spark: SparkSession, wait_s: float = 15.0) -> int | None:
    """The exit code of the session's JVM if it ends within `wait_s`, else None (still alive).

    An OutOfMemoryError in a local-mode task kills the whole JVM, and the Python side only sees
    "SparkContext was shut down"; Spark's exit code says why."""
    try:
        return spark.sparkContext._gateway.proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        return None


def scores_glob(dataset: Dataset) -> str:
    """The Parquet data files of exams.scores (partition folders exam_id=...)."""
    return str(dataset.scores_dir / "exam_id=*" / "*.parquet")


def run_duckdb(
    dataset: Dataset, scheme: GradingScheme, out: Path, engine: str = "duckdb"
) -> EngineResult:
    """DuckDB grading the same files: `duckdb` with the window SQL people write first,
    `duckdb_hist` with the histogram plan (lakejobs' approach, DuckDB's best formulation)."""
    target = out / engine
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    con = duckdb.connect(
        config={
            "threads": 2,
            "temp_directory": str(target / "spill"),
            "preserve_insertion_order": False,
        }
    )
    source = (
        f"read_parquet('{scores_glob(dataset)}', hive_partitioning = true, "
        "hive_types = {'exam_id': 'VARCHAR'})"
    )
    grades = target / "grades.parquet"
    written = f"read_parquet('{grades}')"
    parquet = "(FORMAT parquet, COMPRESSION zstd)"
    graded = (graded_histogram_sql if engine == "duckdb_hist" else graded_sql)(source, scheme, '"')
    watch = Stopwatch()
    # This process only: its descendants include the (idle) Spark JVM.
    with PeakRss(lambda: [os.getpid()], descendants=False) as rss:
        with watch.time("grades"):
            con.execute(f"COPY ({graded}) TO '{grades}' {parquet}")
        with watch.time("reports"):
            con.execute(
                f"COPY ({cutoffs_sql(written, scheme)}) TO '{target / 'cutoffs.parquet'}' {parquet}"
            )
            con.execute(
                f"COPY ({school_report_sql(written, scheme)}) "
                f"TO '{target / 'school_report.parquet'}' {parquet}"
            )
    histogram = to_histogram(con.execute(check_sql(written, '"')).fetchall())
    con.close()
    return EngineResult(
        engine,
        "ok",
        sum(watch.seconds.values()),
        steps=watch.seconds,
        peak_rss_gb=rss.gb,
        histogram=histogram,
    )


def run_mariadb(dataset: Dataset, scheme: GradingScheme, args: argparse.Namespace) -> EngineResult:
    if args.skip_mariadb:
        return EngineResult("mariadb", "skipped", note="--skip-mariadb")
    if dataset.rows > mariadb_grading.MAX_ROWS:
        return EngineResult(
            "mariadb", "skipped", note=f"only run up to {mariadb_grading.MAX_ROWS:.0e} rows"
        )
    binaries = mariadb_grading.server_binaries()
    if isinstance(binaries, str):
        return EngineResult("mariadb", "skipped", note=binaries)
    csv = mariadb_grading.export_csv(scores_glob(dataset), dataset.directory / "scores.csv")
    run = mariadb_grading.run_grading(
        csv, args.data_dir / "mariadb", scheme, args.mariadb_timeout, binaries
    )
    if run.status == "timeout":
        return EngineResult(
            "mariadb",
            "timeout",
            steps=run.steps,
            peak_rss_gb=run.peak_rss_gb,
            note=f"killed after {args.mariadb_timeout:.0f}s",
        )
    return EngineResult(
        "mariadb",
        "ok",
        sum(run.steps.values()),
        steps=run.steps,
        peak_rss_gb=run.peak_rss_gb,
        histogram=to_histogram(run.rows or []),
    )


def warm_up(
    spark: SparkSession,
    settings: Settings,
    dataset: Dataset,
    scheme: GradingScheme,
    event_log: Path,
) -> None:
    """Run both Spark engines once on WARMUP_ROWS rows of their own lake, untimed, so that the
    timed runs measure the work and not class loading and JIT compilation of a fresh JVM (the
    planning figures docs/design.md §6 mentions are warm-JVM figures too; --cold measures a
    first run instead)."""
    small = exams_dataset(dataset.data_dir, WARMUP_ROWS, dataset.seed)
    ensure_small(spark, small)
    print(f"warming up on {small.rows:,} rows (untimed)", flush=True)
    reset_outputs(spark, small)
    run_lakejobs(
        spark, dataclasses.replace(settings, lake=str(small.lake)), small, scheme, event_log
    )
    run_naive_spark(spark, small, scheme, small.directory / "out", event_log)


def spark_setting(text: str) -> tuple[str, str]:
    """`KEY=VALUE` of --conf; the key must be a Spark setting (spark.*)."""
    key, equals, value = text.partition("=")
    if not (equals and key.startswith("spark.") and value):
        raise argparse.ArgumentTypeError(f"expected spark.KEY=VALUE, got {text!r}")
    return key, value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time lakejobs' exams.grade job against DuckDB window SQL, a naive Spark window+UDF "
            "implementation and MariaDB on the same generated scores; cross-check their grade "
            "histograms; print a table and a final RESULT line."
        ),
        epilog="Example: .venv/bin/python bench/grading.py --rows 1e6 --skip-mariadb",
    )
    parser.add_argument("--rows", type=positive_rows, required=True, help="score rows, e.g. 1e7")
    parser.add_argument("--seed", type=int, default=1, help="data generator seed (default 1)")
    parser.add_argument("--scheme", default="csat9", help="grading scheme (default csat9)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where generated data, the bench lake and outputs live (default bench/data)",
    )
    parser.add_argument("--skip-mariadb", action="store_true", help="do not run MariaDB")
    parser.add_argument(
        "--skip-naive",
        action="store_true",
        help="do not run the naive Spark baseline (it runs out of heap from 1e8 rows on)",
    )
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=spark_setting,
        help=(
            "override a Spark setting of the library's session for this run (repeatable): an A/B "
            "of a session default, or spark.driver.memory=16g so that the naive baseline's "
            "windows fit at 1e8 rows (both Spark engines get it)"
        ),
    )
    parser.add_argument(
        "--skip-duckdb",
        action="store_true",
        help="do not run DuckDB (its window SQL needs ~18 GB of RAM at 1e8 rows); no ratio then",
    )
    parser.add_argument(
        "--mariadb-timeout",
        type=float,
        default=600.0,
        help="seconds for MariaDB load + grading before it is recorded as timeout (default 600)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help=(
            "skip the untimed warm-up run on 1e4 rows: time the first run in a fresh JVM, as "
            "a nightly spark-submit sees it (also faster for smoke tests)"
        ),
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the physical plan of lakejobs' grades write (jobs.exams.grading.grade) first",
    )
    add_record_option(parser)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    return args


def ratio_to(seconds: float, baseline: EngineResult | None) -> str:
    """`seconds` over a baseline's time, or n/a when the baseline did not finish."""
    if baseline is None or baseline.status != "ok" or not baseline.seconds:
        return "n/a"
    return f"{seconds / baseline.seconds:.2f}"


def print_report(dataset: Dataset, results: list[EngineResult], load_at_start: float) -> None:
    duckdb_s = next(r.seconds for r in results if r.engine == "duckdb")
    rows = []
    for r in results:
        ratio = f"{r.seconds / duckdb_s:.2f}" if r.status == "ok" and r.seconds and duckdb_s else ""
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in r.steps.items())
        rss = f"{r.peak_rss_gb:.2f}" if r.peak_rss_gb is not None else ""
        spill = str(r.spill) if r.spill is not None else ""
        detail = "; ".join(x for x in (steps, r.note) if x)
        rows.append([r.engine, r.value, ratio, rss, spill, detail])
    print(
        f"\ngrading, {dataset.rows:,} rows ({rows_label(dataset.rows)}); {machine_note(load_at_start)}"
    )
    print(format_table(["engine", "seconds", "x duckdb", "peak_rss_gb", "spill", "detail"], rows))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    scheme = get_scheme(args.scheme)
    dataset = exams_dataset(args.data_dir, args.rows, args.seed)
    cached = dataset.ready()
    if not cached:
        dataset.reset()
    event_log = args.data_dir / "eventlog"
    settings = bench_settings(dataset.lake, event_log, args.conf)
    spark = start_spark(settings, "bench-grading")
    if not cached:
        generate(spark, dataset)
    if args.explain:
        scores = spark.read.format("delta").load(str(dataset.scores_dir))
        grade(scores, scheme).grades.explain(mode="formatted")
    if not args.cold:
        warm_up(spark, settings, dataset, scheme, event_log)
    reset_outputs(spark, dataset)
    # The lake as before a nightly run: its input registered, its run log present.
    tables = Catalog(spark, LakeLayout(settings.lake))
    for name in ("exams.scores", RUN_LOG):
        tables.ensure(table_contract(name))

    out = dataset.directory / "out"
    results = [run_lakejobs(spark, settings, dataset, scheme, event_log)]
    if results[0].status != "ok":
        print(f"lakejobs' exams.grade failed: {results[0].note}", file=sys.stderr)
        return 1
    if args.skip_naive:
        results.append(EngineResult("naive_spark", "skipped", note="--skip-naive"))
    else:
        results.append(run_naive_spark_or_failure(spark, dataset, scheme, out, event_log))
    if results[-1].status != "failed":
        spark.stop()
    # else: an OutOfMemoryError in local mode ends the JVM itself; there is nothing to stop.
    for engine in ("duckdb", "duckdb_hist"):
        if args.skip_duckdb:
            results.append(EngineResult(engine, "skipped", note="--skip-duckdb"))
        else:
            results.append(run_duckdb(dataset, scheme, out, engine))
    results.append(run_mariadb(dataset, scheme, args))
    print_report(dataset, results, load_at_start)

    reference = results[0]
    finished = [r for r in results if r.histogram is not None]
    problems = [
        p for r in finished[1:] for p in (f"{r.engine}: {q}" for q in compare(reference, r))
    ]
    total = sum(c.count for c in reference.histogram.values()) if reference.histogram else 0
    if total != dataset.rows:
        problems.insert(0, f"lakejobs graded {total:,} rows, expected {dataset.rows:,}")
    if problems:
        print(f"\nCROSS-CHECK FAILED ({len(problems)} differences):", file=sys.stderr)
        for problem in problems[:20]:
            print(f"  {problem}", file=sys.stderr)
        return 1
    names = ", ".join(r.engine for r in finished)
    print(f"\ncross-check passed: identical grade histograms from {names}")
    by_engine = {r.engine: r for r in results}
    lakejobs_s, duckdb, hist = (
        reference.seconds or 0.0,
        by_engine["duckdb"],
        by_engine["duckdb_hist"],
    )
    best = min(
        (r for r in (duckdb, hist) if r.status == "ok" and r.seconds),
        key=lambda r: r.seconds,
        default=None,
    )
    print_result(
        f"RESULT grading rows={dataset.rows} lakejobs_s={lakejobs_s:.2f} "
        f"duckdb_s={duckdb.value} duckdb_hist_s={hist.value} "
        f"naive_spark_s={by_engine['naive_spark'].value} "
        f"mariadb_s={by_engine['mariadb'].value} ratio_vs_duckdb={ratio_to(lakejobs_s, duckdb)} "
        f"ratio_vs_best_duckdb={ratio_to(lakejobs_s, best)} "
        f"peak_rss_gb={reference.peak_rss_gb:.2f}",
        args.record,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
