"""Deterministic benchmark data, made by Spark straight into the lake layout.

Every value is a pure function of the row id and the seed (xxhash64 of both), so a data set is
the same whatever the partitioning, and 1e9 rows need no driver memory: `spark.range(N)` plus
column expressions, no Python loops, no UDFs.

Two kinds, cached under `<data-dir>/<kind>-<rows>/` and reused while the seed and the generator
version match (a `_bench_data.json` marker is written last, so a killed run is regenerated):
- `exams`: the curated Delta table `exams.scores` of a bench lake, delivered on INGEST_DATE so
  that the real job `exams.grade` grades it for that date. Its Parquet data files are read
  directly by the baselines (the table is written once into an empty folder, so the files are
  exactly its current snapshot).
- `groupby`: the db-benchmark groupby table (h2oai/db-benchmark `groupby-datagen.R`, K=100, no
  NAs) as Parquet.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from benchkit import DEFAULT_DATA_DIR, bench_settings, positive_rows, start_spark
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.tables import TableWriter

GENERATOR_VERSION = 1
MARKER = "_bench_data.json"
ROWS_PER_PARTITION = 4_000_000

INGEST_DATE = date(2026, 11, 20)
EXAMS = (
    ("2026-06-MOCK", date(2026, 6, 4)),
    ("2026-09-MOCK", date(2026, 9, 3)),
    ("2026-10-MOCK", date(2026, 10, 14)),
    ("2026-11-CSAT", date(2026, 11, 19)),
)
SUBJECTS = ("korean", "math", "english", "history", "physics", "chemistry")
SCHOOLS = 2000
CLASSES_PER_SCHOOL = 12
SCORE_MEAN = 62.0
SCORE_SD = 18.0
MAX_SCORE = 100

GROUPBY_K = 100
# Size of the data sets the benchmarks warm the JVM up on before timing.
WARMUP_ROWS = 10_000
_2_POW_53 = 2**53


@dataclass(frozen=True)
class Dataset:
    """One cached data set: `<data_dir>/<kind>-<rows>/`, valid while its marker matches."""

    kind: str
    rows: int
    seed: int
    data_dir: Path

    @property
    def directory(self) -> Path:
        return self.data_dir / f"{self.kind}-{self.rows}"

    @property
    def lake(self) -> Path:
        """The bench lake of this data set (for `groupby` it only holds the metastore)."""
        return self.directory / "lake"

    @property
    def scores_dir(self) -> Path:
        """Local folder of the `exams.scores` Delta table (exams only)."""
        contract = table_contract("exams.scores")
        return self.lake / "curated" / contract.database / contract.table

    @property
    def groupby_dir(self) -> Path:
        """Folder of the db-benchmark Parquet files (groupby only)."""
        return self.directory / "x"

    def _identity(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "seed": self.seed,
            "generator_version": GENERATOR_VERSION,
        }

    def ready(self) -> bool:
        marker = self.directory / MARKER
        if not marker.is_file():
            return False
        return json.loads(marker.read_text(encoding="utf-8")) == self._identity()

    def reset(self) -> None:
        """Remove a stale or half-written copy; call before the session opens its metastore."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def mark(self) -> None:
        (self.directory / MARKER).write_text(json.dumps(self._identity()), encoding="utf-8")


def _partitions(rows: int) -> int:
    return max(2, math.ceil(rows / ROWS_PER_PARTITION))


def _hash(seed: int, salt: str, of: Column | None = None) -> Column:
    """A 64-bit hash of (row id or `of`, seed, salt): the only source of randomness here."""
    return F.xxhash64(F.col("id") if of is None else of, F.lit(seed), F.lit(salt))


def _pick(seed: int, salt: str, n: int, of: Column | None = None) -> Column:
    """An integer in 0..n-1, uniform (the bias of a 64-bit modulus is negligible)."""
    return F.pmod(_hash(seed, salt, of), F.lit(n))


def _uniform(seed: int, salt: str) -> Column:
    """A double uniform in [0, 1) with 53 random bits."""
    return F.pmod(_hash(seed, salt), F.lit(_2_POW_53)) / F.lit(float(_2_POW_53))


def _padded(prefix: str, number: Column, width: int) -> Column:
    """`prefix` + `number` zero-padded to `width` digits; the same text as
    format_string("%0<width>d"), without Java's per-row String.format (5-10x slower)."""
    return F.concat(F.lit(prefix), F.lpad(number.cast("string"), width, "0"))


def exam_scores_frame(spark: SparkSession, rows: int, seed: int) -> DataFrame:
    """`rows` exam scores in the `exams.scores` contract.

    Row i is exam i % 4, subject (i div 4) % 6 and student i div 24, so student ids are unique
    per (exam, subject) and each student sits every subject of every exam, always in the same
    school and class. Scores are integers 0..100, normal(62, 18) rounded and clipped (Box-Muller).
    """
    ids = spark.range(0, rows, 1, _partitions(rows))
    exam = (F.col("id") % len(EXAMS)).cast("int") + 1
    subject = (F.expr(f"id div {len(EXAMS)}") % len(SUBJECTS)).cast("int") + 1
    student = F.expr(f"id div {len(EXAMS) * len(SUBJECTS)}")
    school = _padded("S", _pick(seed, "school", SCHOOLS, student) + 1, 4)
    klass = _pick(seed, "class", CLASSES_PER_SCHOOL, student) + 1
    normal = F.sqrt(F.lit(-2.0) * F.log(F.lit(1.0) - _uniform(seed, "u1"))) * F.cos(
        F.lit(2 * math.pi) * _uniform(seed, "u2")
    )
    score = F.least(F.greatest(F.round(SCORE_MEAN + SCORE_SD * normal), F.lit(0)), F.lit(MAX_SCORE))
    return ids.select(
        F.element_at(F.array(*[F.lit(e) for e, _ in EXAMS]), exam).alias("exam_id"),
        F.element_at(F.array(*[F.lit(d) for _, d in EXAMS]), exam).alias("exam_date"),
        F.element_at(F.array(*[F.lit(s) for s in SUBJECTS]), subject).alias("subject"),
        _padded("ST", student + 1, 9).alias("student_id"),
        school.alias("school_id"),
        F.concat(school, _padded("-C", klass, 2)).alias("class_id"),
        score.cast("double").alias("score"),
        F.lit(float(MAX_SCORE)).alias("max_score"),
        F.lit(INGEST_DATE).alias("ingest_date"),
        F.lit("bench/datagen.py").alias("source_file"),
        F.lit(f"bench-datagen-seed{seed}").alias("run_id"),
    )


def groupby_frame(spark: SparkSession, rows: int, seed: int) -> DataFrame:
    """The db-benchmark groupby table: id1, id2 `id%03d` and id4, id5 over 1..K; id3 `id%010d`
    and id6 over 1..N/K; v1 in 1..5, v2 in 1..15, v3 uniform(0, 100) rounded to 6 digits."""
    k = GROUPBY_K
    nk = max(1, rows // k)
    ids = spark.range(0, rows, 1, _partitions(rows))
    return ids.select(
        _padded("id", _pick(seed, "id1", k) + 1, 3).alias("id1"),
        _padded("id", _pick(seed, "id2", k) + 1, 3).alias("id2"),
        _padded("id", _pick(seed, "id3", nk) + 1, 10).alias("id3"),
        (_pick(seed, "id4", k) + 1).cast("int").alias("id4"),
        (_pick(seed, "id5", k) + 1).cast("int").alias("id5"),
        (_pick(seed, "id6", nk) + 1).cast("int").alias("id6"),
        (_pick(seed, "v1", 5) + 1).cast("int").alias("v1"),
        (_pick(seed, "v2", 15) + 1).cast("int").alias("v2"),
        F.round(_uniform(seed, "v3") * 100, 6).alias("v3"),
    )


def exams_dataset(data_dir: Path, rows: int, seed: int) -> Dataset:
    return Dataset("exams", rows, seed, data_dir)


def groupby_dataset(data_dir: Path, rows: int, seed: int) -> Dataset:
    return Dataset("groupby", rows, seed, data_dir)


def generate(spark: SparkSession, dataset: Dataset) -> None:
    """Write `dataset` with the running session and say how long it took (never timed)."""
    started = time.perf_counter()
    if dataset.kind == "exams":
        contract = table_contract("exams.scores")
        tables = TableWriter(Catalog(spark, LakeLayout(f"file:{dataset.lake}")))
        tables.append(contract, exam_scores_frame(spark, dataset.rows, dataset.seed))
    else:
        frame = groupby_frame(spark, dataset.rows, dataset.seed)
        frame.write.mode("overwrite").parquet(str(dataset.groupby_dir))
    dataset.mark()
    elapsed = time.perf_counter() - started
    print(f"generated {dataset.rows:,} {dataset.kind} rows in {elapsed:.1f}s (untimed)", flush=True)


def ensure_small(spark: SparkSession, dataset: Dataset) -> None:
    """Generate `dataset` unless cached, with a session whose metastore lives elsewhere (a
    session's own lake may only be reset before the session starts)."""
    if not dataset.ready():
        dataset.reset()
        generate(spark, dataset)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Generate (or confirm the cache of) benchmark data ahead of a timed run; the "
            "benchmarks call the same code when their data is missing."
        ),
    )
    parser.add_argument("kind", choices=["exams", "groupby"], help="which data set")
    parser.add_argument("--rows", type=positive_rows, required=True, help="rows, e.g. 1e7")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="cache root (default bench/data)"
    )
    args = parser.parse_args(argv)
    make = exams_dataset if args.kind == "exams" else groupby_dataset
    dataset = make(args.data_dir.resolve(), args.rows, args.seed)
    if dataset.ready():
        print(f"{dataset.directory}: cached")
        return 0
    dataset.reset()
    spark = start_spark(bench_settings(dataset.lake), f"bench-datagen-{args.kind}")
    generate(spark, dataset)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
