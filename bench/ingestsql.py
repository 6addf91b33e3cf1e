"""The exams ingest written for DuckDB: the baseline of bench/ingest.py and bench/pipeline.py.

The same rules as lakejobs' `exams.ingest_scores` (jobs/schemas/raw/exam_scores.json and the suite
jobs/schemas/expectations/exams.scores.json), written independently in SQL:
- records by DuckDB's own CSV reader; a record with the wrong number of fields is rejected
  (`store_rejects`) and counted as quarantined `malformed`;
- empty fields are null; required columns not null; `exam_date` a strict YYYY-MM-DD date;
  `score` in the plain decimal grammar (optional sign, digits, optional fraction and exponent:
  no `7d`, hex or NaN), then between 0 and 100 (or `max_score`);
- one row per (exam_id, subject, student_id), the one from the greatest source file name;
- curated rows as Parquet partitioned by exam_id, quarantined records as Parquet (zstd).
Key normalisation (NFKC, invisible characters) is not reproduced: the bench data is ASCII.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

COLUMNS = ("exam_id", "exam_date", "subject", "student_id", "school_id", "class_id", "score")
KEY = ("exam_id", "subject", "student_id")
PLAIN_DECIMAL = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
PARQUET = "FORMAT parquet, COMPRESSION zstd"


@dataclass(frozen=True)
class Accounting:
    """in = written + quarantined + duplicates, as one engine counted it."""

    rows_in: int
    written: int
    quarantined: int
    duplicates: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.rows_in, self.written, self.quarantined, self.duplicates)

    def __str__(self) -> str:
        return (
            f"in {self.rows_in:,} = written {self.written:,} + quarantined {self.quarantined:,}"
            f" + duplicates {self.duplicates:,}"
        )


def connect(spill_dir: Path, threads: int = 2) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection sized like the Spark side: 2 threads, spilling to `spill_dir`."""
    spill_dir.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        config={
            "threads": threads,
            "temp_directory": str(spill_dir),
            "preserve_insertion_order": False,
        }
    )


def _read_csv(files: str) -> str:
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS)
    return (
        f"read_csv('{files}', header = true, delim = ',', quote = '\"', escape = '\"', "
        f"auto_detect = false, columns = {{{columns}}}, filename = true, store_rejects = true)"
    )


def _reasons() -> str:
    """A list of the row's reasons (empty when good), as lakejobs names them."""
    checks = [f"CASE WHEN {c} IS NULL THEN 'null:{c}' END" for c in COLUMNS]
    checks += [
        "CASE WHEN exam_date IS NOT NULL AND (length(exam_date) <> 10 OR "
        "try_strptime(exam_date, '%Y-%m-%d') IS NULL) THEN 'bad_type:exam_date' END",
        f"CASE WHEN score IS NOT NULL AND NOT regexp_full_match(score, '{PLAIN_DECIMAL}') "
        "THEN 'bad_type:score' END",
        f"CASE WHEN regexp_full_match(score, '{PLAIN_DECIMAL}') AND "
        "(CAST(score AS DOUBLE) < 0 OR CAST(score AS DOUBLE) > 100) "
        "THEN 'out_of_range:score' END",
    ]
    return f"list_filter([{', '.join(checks)}], lambda r: r IS NOT NULL)"


def ingest(con: duckdb.DuckDBPyConnection, raw_dir: Path, out_dir: Path) -> Accounting:
    """Read, check, deduplicate and write one delivery; return its accounting.

    The checked records are materialised once (a temporary table), as lakejobs persists its
    staged batch, because both outputs and the counts read them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cleaned = ", ".join(f"nullif(trim({c}), '') AS {c}" for c in COLUMNS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE staged AS
        SELECT *, {_reasons()} AS reasons
        FROM (SELECT {cleaned}, filename AS source_file FROM {_read_csv(f"{raw_dir}/*.csv")})
        """
    )
    rejected = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT scan_id, file_id, line FROM reject_errors)"
    ).fetchone()[0]
    # `+ 0.0` turns -0 into 0, as lakejobs stores it.
    con.execute(
        f"""
        COPY (
            SELECT {", ".join(KEY)}, best.*
            FROM (
                SELECT {", ".join(KEY)},
                       arg_max(struct_pack(exam_date := CAST(exam_date AS DATE),
                                           school_id, class_id,
                                           score := CAST(score AS DOUBLE) + 0.0,
                                           source_file), source_file) AS best
                FROM staged WHERE len(reasons) = 0
                GROUP BY ALL
            )
        ) TO '{out_dir / "scores"}' ({PARQUET}, PARTITION_BY (exam_id), OVERWRITE_OR_IGNORE)
        """
    )
    con.execute(
        f"""
        COPY (SELECT source_file, concat_ws(',', {", ".join(COLUMNS)}) AS raw_record, reasons
              FROM staged WHERE len(reasons) > 0)
        TO '{out_dir / "quarantine.parquet"}' ({PARQUET})
        """
    )
    staged, bad, good = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE len(reasons) > 0), "
        "count(*) FILTER (WHERE len(reasons) = 0) FROM staged"
    ).fetchone()
    written = con.execute(
        f"SELECT count(*) FROM read_parquet('{out_dir / 'scores'}/*/*.parquet')"
    ).fetchone()[0]
    con.execute("DROP TABLE staged")
    return Accounting(
        rows_in=staged + rejected,
        written=written,
        quarantined=bad + rejected,
        duplicates=good - written,
    )


def scores_source(out_dir: Path) -> str:
    """The curated rows DuckDB wrote, as a relation for the grading SQL."""
    return (
        f"read_parquet('{out_dir / 'scores'}/*/*.parquet', hive_partitioning = true, "
        "hive_types = {'exam_id': 'VARCHAR'})"
    )
