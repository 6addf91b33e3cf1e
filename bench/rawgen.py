"""A raw CSV delivery at any scale, for the benchmarks that start from raw files.

`lakejobs generate exams` builds its files in memory (numpy), which is right for tests and the
demo and impossible at 1e9 lines. This writes the same kind of delivery with Spark instead: the
rows of `datagen.exam_scores_frame` as CSV text lines under
`<lake>/raw/exam_scores/ingest_date=2026-11-20/`, about 2 % of them dirty in the generator's
kinds, each a pure function of the line number and the seed (xxhash64), so it scales like the
rest of bench/ and needs no driver memory.

Dirty kinds (line i, chosen by a hash of i; the counts are aggregated once at generation and
stored in `_expected.json`, so every engine's accounting is checked against the same figures):
- malformed: only the first three fields;
- bad_type:score (`7d`, `abc`, `0x1p6`: what Java's parser would accept or not, never a number in
  the plain decimal grammar), bad_type:exam_date (`2026-13-45`), null:student_id (empty),
  out_of_range:score (150);
- duplicate: line i repeats line i - 24 exactly (same exam and subject, the previous student),
  which is always a clean line, so every duplicate has exactly one clean original.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from datagen import (
    CLASSES_PER_SCHOOL,
    EXAMS,
    INGEST_DATE,
    MAX_SCORE,
    SCHOOLS,
    SCORE_MEAN,
    SCORE_SD,
    SUBJECTS,
    Dataset,
    _hash,
    _padded,
    _pick,
)
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

RAW_SOURCE = "exam_scores"
HEADER = ("exam_id", "exam_date", "subject", "student_id", "school_id", "class_id", "score")
EXPECTED = "_expected.json"
# Per 10,000 lines: each dirty kind gets this many slots of the hash range.
DIRTY_PER_10K = 33
KINDS = (
    "malformed",
    "bad_type:score",
    "bad_type:exam_date",
    "null:student_id",
    "out_of_range:score",
    "duplicate",
)
QUARANTINE_KINDS = KINDS[:-1]
LINES_PER_FILE = 5_000_000
MIN_FILES = 8
# Lines a duplicate looks back: the previous student of the same exam and subject
# (datagen: row i is exam i % 4, subject (i div 4) % 6, student i div 24).
DUPLICATE_LAG = 24
BAD_SCORES = ("7d", "abc", "0x1p6")


@dataclass(frozen=True)
class Expected:
    """The accounting every engine must reproduce for a raw data set."""

    rows_in: int
    written: int
    quarantined: int
    duplicates: int
    by_kind: dict[str, int]

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.rows_in, self.written, self.quarantined, self.duplicates)


def raw_dir(dataset: Dataset) -> Path:
    return dataset.lake / "raw" / RAW_SOURCE / f"ingest_date={INGEST_DATE.isoformat()}"


def _raw_kind(seed: int, line: Column) -> Column:
    """Kind code before the duplicate rule: 0 clean, k for KINDS[k - 1]."""
    slot = F.pmod(F.xxhash64(line, F.lit(seed), F.lit("dirty")), F.lit(10_000))
    return F.when(slot >= DIRTY_PER_10K * len(KINDS), F.lit(0)).otherwise(
        (slot / DIRTY_PER_10K).cast("int") + 1
    )


def kinds_frame(spark: SparkSession, rows: int, seed: int) -> DataFrame:
    """Line number `id`, its kind code and the line whose values it carries (`source`: itself,
    or for a duplicate the clean line it repeats). One partition per output file, in line order."""
    lines = spark.range(0, rows, 1, files_for(rows))
    duplicate = len(KINDS)
    raw = _raw_kind(seed, F.col("id"))
    repeats_clean = (F.col("id") >= DUPLICATE_LAG) & (
        _raw_kind(seed, F.col("id") - DUPLICATE_LAG) == 0
    )
    # A would-be duplicate whose predecessor is not clean stays clean itself.
    kind = F.when((raw == duplicate) & ~repeats_clean, F.lit(0)).otherwise(raw)
    source = F.when(kind == duplicate, F.col("id") - DUPLICATE_LAG).otherwise(F.col("id"))
    return lines.select("id", kind.alias("kind"), source.alias("source"))


def _uniform_of(seed: int, salt: str, of: Column) -> Column:
    """A double uniform in [0, 1) with 53 random bits, from a hash of `of`."""
    return F.pmod(_hash(seed, salt, of), F.lit(2**53)) / F.lit(float(2**53))


def clean_fields(seed: int, line: Column) -> dict[str, Column]:
    """The text fields of line `line`: the same values as `datagen.exam_scores_frame` row `line`
    (exam, subject and student from the line number; school, class and score from its hashes)."""
    exam = (line % len(EXAMS)).cast("int") + 1
    subject = (F.floor(line / len(EXAMS)) % len(SUBJECTS)).cast("int") + 1
    student = F.floor(line / (len(EXAMS) * len(SUBJECTS)))
    school = _padded("S", _pick(seed, "school", SCHOOLS, student) + 1, 4)
    klass = _pick(seed, "class", CLASSES_PER_SCHOOL, student) + 1
    normal = F.sqrt(F.lit(-2.0) * F.log(F.lit(1.0) - _uniform_of(seed, "u1", line))) * F.cos(
        F.lit(2 * math.pi) * _uniform_of(seed, "u2", line)
    )
    score = F.least(F.greatest(F.round(SCORE_MEAN + SCORE_SD * normal), F.lit(0)), F.lit(MAX_SCORE))
    return {
        "exam_id": F.element_at(F.array(*[F.lit(e) for e, _ in EXAMS]), exam),
        "exam_date": F.element_at(F.array(*[F.lit(d.isoformat()) for _, d in EXAMS]), exam),
        "subject": F.element_at(F.array(*[F.lit(s) for s in SUBJECTS]), subject),
        "student_id": _padded("ST", student + 1, 9),
        "school_id": school,
        "class_id": F.concat(school, _padded("-C", klass, 2)),
        "score": score.cast("int").cast("string"),
    }


def raw_lines(kinds: DataFrame, seed: int) -> DataFrame:
    """One column named like the header line: the CSV text of each line, dirty ones spoiled."""
    fields = clean_fields(seed, F.col("source"))
    kind = F.col("kind")
    bad_score = F.element_at(
        F.array(*map(F.lit, BAD_SCORES)),
        (_pick(seed, "bad_score", len(BAD_SCORES)) + 1).cast("int"),
    )
    values = {
        **fields,
        "exam_date": F.when(kind == 3, F.lit("2026-13-45")).otherwise(fields["exam_date"]),
        "student_id": F.when(kind == 4, F.lit("")).otherwise(fields["student_id"]),
        "score": F.when(kind == 2, bad_score)
        .when(kind == 5, F.lit("150"))
        .otherwise(fields["score"]),
    }
    full = F.concat_ws(",", *[values[name] for name in HEADER])
    short = F.concat_ws(",", *[values[name] for name in HEADER[:3]])
    return kinds.select(F.when(kind == 1, short).otherwise(full).alias(",".join(HEADER)))


def expected_accounting(kinds: DataFrame) -> Expected:
    """Count the kinds: what a correct ingest must report for this delivery."""
    counts = {int(r["kind"]): int(r["count"]) for r in kinds.groupBy("kind").count().collect()}
    by_kind = {name: counts.get(code, 0) for code, name in enumerate(KINDS, start=1)}
    rows_in = sum(counts.values())
    quarantined = sum(by_kind[k] for k in QUARANTINE_KINDS)
    duplicates = by_kind["duplicate"]
    return Expected(rows_in, rows_in - quarantined - duplicates, quarantined, duplicates, by_kind)


def files_for(rows: int) -> int:
    return max(MIN_FILES, math.ceil(rows / LINES_PER_FILE))


def write_raw(spark: SparkSession, dataset: Dataset) -> Expected:
    """Write the delivery (plain .csv files, a header line each) and its `_expected.json`.

    Spark's CSV writer writes the one text column as it is: the separator is a character no line
    contains and quoting is off, so each value is one raw line and the column name the header."""
    kinds = kinds_frame(spark, dataset.rows, dataset.seed)
    (
        raw_lines(kinds, dataset.seed)
        .write.mode("overwrite")
        .option("header", True)
        .option("sep", "\u0001")
        .option("quote", "")
        .csv(str(raw_dir(dataset)))
    )
    expected = expected_accounting(kinds)
    (dataset.directory / EXPECTED).write_text(
        json.dumps(dataclasses.asdict(expected), indent=2), encoding="utf-8"
    )
    return expected


def read_expected(dataset: Dataset) -> Expected:
    fields = json.loads((dataset.directory / EXPECTED).read_text(encoding="utf-8"))
    return Expected(**fields)


def raw_dataset(data_dir: Path, rows: int, seed: int) -> Dataset:
    return Dataset("raw", rows, seed, data_dir)


def ensure_raw(spark: SparkSession, dataset: Dataset) -> Expected:
    """The cached delivery of `dataset`, written first if missing or stale (untimed)."""
    if dataset.ready():
        return read_expected(dataset)
    dataset.reset()
    started = time.perf_counter()
    expected = write_raw(spark, dataset)
    dataset.mark()
    print(
        f"generated {dataset.rows:,} raw lines in {files_for(dataset.rows)} files in "
        f"{time.perf_counter() - started:.1f}s (untimed): {expected.by_kind}",
        flush=True,
    )
    return expected
