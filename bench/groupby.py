"""db-benchmark groupby q1-q10 through lakejobs' Spark session, against DuckDB, on one Parquet table.

    .venv/bin/python bench/groupby.py --rows 1e7

The questions are those of h2oai/db-benchmark (groupby, K=100, no NAs), as one SQL text run by
both engines. Departures: q6's median is the exact `median` in both engines (the Spark solution
of db-benchmark uses percentile_approx), so that the answers can be compared; q9 runs with ANSI
mode off (see SPARK_CONF).

Both engines query the same Parquet files for every question (no caching in memory first), and
every answer is materialised: Spark writes it to the `noop` sink, DuckDB creates a table from it.
Answers are then cross-checked, untimed: equal row counts and, per numeric column, the same
count of finite values and the same sum (relative tolerance 1e-6). The last line is
`RESULT groupby rows=... lakejobs_s=... duckdb_s=... ratio_vs_duckdb=...` (sums over q1-q10).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
from benchkit import (
    DEFAULT_DATA_DIR,
    add_record_option,
    bench_settings,
    format_table,
    machine_note,
    positive_rows,
    print_result,
    rows_label,
    start_spark,
)
from datagen import WARMUP_ROWS, Dataset, ensure_small, generate, groupby_dataset
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import NumericType

QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("q1", "sum v1 by id1", "SELECT id1, SUM(v1) AS v1 FROM x GROUP BY id1"),
    ("q2", "sum v1 by id1:id2", "SELECT id1, id2, SUM(v1) AS v1 FROM x GROUP BY id1, id2"),
    (
        "q3",
        "sum v1 mean v3 by id3",
        "SELECT id3, SUM(v1) AS v1, MEAN(v3) AS v3 FROM x GROUP BY id3",
    ),
    (
        "q4",
        "mean v1:v3 by id4",
        "SELECT id4, MEAN(v1) AS v1, MEAN(v2) AS v2, MEAN(v3) AS v3 FROM x GROUP BY id4",
    ),
    (
        "q5",
        "sum v1:v3 by id6",
        "SELECT id6, SUM(v1) AS v1, SUM(v2) AS v2, SUM(v3) AS v3 FROM x GROUP BY id6",
    ),
    (
        "q6",
        "median v3 sd v3 by id4 id5",
        "SELECT id4, id5, MEDIAN(v3) AS median_v3, STDDEV(v3) AS sd_v3 FROM x GROUP BY id4, id5",
    ),
    (
        "q7",
        "max v1 - min v2 by id3",
        "SELECT id3, MAX(v1) - MIN(v2) AS range_v1_v2 FROM x GROUP BY id3",
    ),
    (
        "q8",
        "largest two v3 by id6",
        "SELECT id6, largest2_v3 FROM (SELECT id6, v3 AS largest2_v3, ROW_NUMBER() OVER "
        "(PARTITION BY id6 ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) sub_query "
        "WHERE order_v3 <= 2",
    ),
    (
        "q9",
        "regression v1 v2 by id2 id4",
        "SELECT id2, id4, POW(CORR(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4",
    ),
    (
        "q10",
        "sum v3 count by id1:id6",
        "SELECT id1, id2, id3, id4, id5, id6, SUM(v3) AS v3, COUNT(*) AS count FROM x "
        "GROUP BY id1, id2, id3, id4, id5, id6",
    ),
)

# Spark 4's ANSI mode raises DIVIDE_BY_ZERO for CORR over a group where v1 or v2 is constant
# (frequent at small sizes); db-benchmark's semantics, like DuckDB's, give no value there.
SPARK_CONF = {"q9": {"spark.sql.ansi.enabled": "false"}}


@dataclass(frozen=True)
class Answer:
    """What is compared of one answer: its rows and, per numeric column, finite count and sum."""

    rows: int
    columns: dict[str, tuple[int, float]]


@dataclass(frozen=True)
class Timed:
    seconds: float
    answer: Answer


def spark_question(spark: SparkSession, sql: str) -> Timed:
    """Run one question into the noop sink (timed), then summarise its answer (untimed)."""
    started = time.perf_counter()
    spark.sql(sql).write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    answer = spark.sql(sql)
    numeric = [f.name for f in answer.schema.fields if isinstance(f.dataType, NumericType)]
    aggregates = [F.count(F.lit(1))]
    for name in numeric:
        value = F.col(name).cast("double")
        finite = F.when(~F.isnan(value) & ~F.abs(value).eqNullSafe(math.inf), value)
        aggregates += [F.count(finite), F.sum(finite)]
    row = answer.agg(*aggregates).first()
    columns = {
        name: (int(row[1 + 2 * i]), float(row[2 + 2 * i] or 0.0)) for i, name in enumerate(numeric)
    }
    return Timed(seconds, Answer(int(row[0]), columns))


def duckdb_question(con: duckdb.DuckDBPyConnection, sql: str, numeric: Sequence[str]) -> Timed:
    """Run one question into a table (timed), then summarise it like `spark_question`."""
    started = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE ans AS {sql}")
    seconds = time.perf_counter() - started
    parts = ["COUNT(*)"]
    for name in numeric:
        value = f"CAST({name} AS DOUBLE)"
        parts += [
            f"COUNT(CASE WHEN isfinite({value}) THEN 1 END)",
            f"SUM(CASE WHEN isfinite({value}) THEN {value} END)",
        ]
    row = con.execute(f"SELECT {', '.join(parts)} FROM ans").fetchone()
    assert row is not None
    columns = {
        name: (int(row[1 + 2 * i]), float(row[2 + 2 * i] or 0.0)) for i, name in enumerate(numeric)
    }
    con.execute("DROP TABLE ans")
    return Timed(seconds, Answer(int(row[0]), columns))


def differences(spark: Answer, duck: Answer) -> list[str]:
    problems = []
    if spark.rows != duck.rows:
        problems.append(f"rows: lakejobs {spark.rows:,}, duckdb {duck.rows:,}")
    for name, (count, total) in spark.columns.items():
        duck_count, duck_total = duck.columns[name]
        if count != duck_count:
            problems.append(f"{name}: {count:,} finite values vs {duck_count:,}")
        elif not math.isclose(total, duck_total, rel_tol=1e-6, abs_tol=1e-6):
            problems.append(f"sum({name}): lakejobs {total!r}, duckdb {duck_total!r}")
    return problems


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time the db-benchmark groupby questions q1-q10 through lakejobs' Spark session and "
            "through DuckDB on the same generated Parquet table; cross-check the answers; print "
            "a per-question table and a final RESULT line."
        ),
        epilog="Example: .venv/bin/python bench/groupby.py --rows 1e7",
    )
    parser.add_argument("--rows", type=positive_rows, required=True, help="table rows, e.g. 1e7")
    parser.add_argument("--seed", type=int, default=1, help="data generator seed (default 1)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where generated data lives (default bench/data)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="skip the untimed warm-up pass over a 1e4-row table (times a fresh JVM)",
    )
    add_record_option(parser)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    return args


def run_spark(spark: SparkSession, dataset: Dataset, echo: bool = True) -> dict[str, Timed]:
    spark.read.parquet(str(dataset.groupby_dir)).createOrReplaceTempView("x")
    results = {}
    for name, _, sql in QUESTIONS:
        overrides = SPARK_CONF.get(name, {})
        saved = {key: spark.conf.get(key) for key in overrides}
        for key, value in overrides.items():
            spark.conf.set(key, value)
        results[name] = spark_question(spark, sql)
        for key, value in saved.items():
            spark.conf.set(key, value)
        if echo:
            print(f"  lakejobs {name}: {results[name].seconds:.2f}s", flush=True)
    return results


def run_duckdb(dataset: Dataset, spark_results: dict[str, Timed]) -> dict[str, Timed]:
    con = duckdb.connect(config={"threads": 2, "temp_directory": str(dataset.directory / "spill")})
    con.execute(f"CREATE VIEW x AS SELECT * FROM read_parquet('{dataset.groupby_dir}/*.parquet')")
    results = {}
    for name, _, sql in QUESTIONS:
        results[name] = duckdb_question(con, sql, list(spark_results[name].answer.columns))
        print(f"  duckdb {name}: {results[name].seconds:.2f}s", flush=True)
    con.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    dataset = groupby_dataset(args.data_dir, args.rows, args.seed)
    cached = dataset.ready()
    if not cached:
        dataset.reset()
    spark = start_spark(bench_settings(dataset.lake), "bench-groupby")
    if not cached:
        generate(spark, dataset)
    if not args.cold:
        # Untimed: the timed questions then measure work, not class loading and JIT.
        small = groupby_dataset(args.data_dir, WARMUP_ROWS, args.seed)
        ensure_small(spark, small)
        print(f"warming up on {small.rows:,} rows (untimed)", flush=True)
        run_spark(spark, small, echo=False)
    spark_results = run_spark(spark, dataset)
    spark.stop()
    duck_results = run_duckdb(dataset, spark_results)

    table, problems = [], []
    for name, question, _ in QUESTIONS:
        s, d = spark_results[name], duck_results[name]
        table.append([name, question, s.answer.rows, s.seconds, d.seconds, s.seconds / d.seconds])
        problems += [f"{name}: {p}" for p in differences(s.answer, d.answer)]
    lakejobs_s = sum(t.seconds for t in spark_results.values())
    duckdb_s = sum(t.seconds for t in duck_results.values())
    table.append(["total", "", "", lakejobs_s, duckdb_s, lakejobs_s / duckdb_s])
    header = ["q", "question", "answer rows", "lakejobs_s", "duckdb_s", "x duckdb"]
    print(
        f"\ngroupby, {dataset.rows:,} rows ({rows_label(dataset.rows)}), K=100; {machine_note(load_at_start)}"
    )
    print(format_table(header, table))
    if problems:
        print(f"\nCROSS-CHECK FAILED ({len(problems)} differences):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("\ncross-check passed: same row counts and column sums from lakejobs and duckdb")
    print_result(
        f"RESULT groupby rows={dataset.rows} lakejobs_s={lakejobs_s:.2f} "
        f"duckdb_s={duckdb_s:.2f} ratio_vs_duckdb={lakejobs_s / duckdb_s:.2f}",
        args.record,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
