"""Pure ingestion transforms: deterministic deduplication and the quarantine/curated shapes."""

from __future__ import annotations

from datetime import date

from chispa import assert_df_equality

from lakejobs.ingest import curated_rows, drop_duplicates, quarantine_rows

KEYS = ("exam_id", "subject", "student_id")


def test_duplicates_keep_the_row_of_the_preferred_file_then_the_greatest_values_whatever_the_order(
    spark,
):
    rows = [
        ("E1", "math", "ST1", 95.0, "a.csv", "2026-06-01"),
        ("E1", "math", "ST1", 90.0, "b.csv", "2026-06-01"),
        ("E1", "math", "ST1", 70.0, "b.csv", "2026-06-02"),
        ("E1", "math", "ST2", 50.0, "a.csv", "2026-06-01"),
        ("E1", "math", "ST2", 60.0, "a.csv", "2026-06-01"),
    ]
    schema = "exam_id string, subject string, student_id string, score double, _source_file string, exam_date string"
    # ST1: b.csv wins over a.csv, then score 90 over 70 (score is the first other column);
    # ST2: both in a.csv, score 60 over 50.
    expected = spark.createDataFrame([rows[1], rows[4]], schema)
    for ordering in (rows, rows[::-1], rows[2:] + rows[:2]):
        df = spark.createDataFrame(ordering, schema).repartition(3)
        actual = drop_duplicates(df, KEYS, prefer=("_source_file",))
        assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_quarantine_rows_keep_the_raw_line_its_reasons_file_and_run(spark):
    bad = spark.createDataFrame(
        [("x,y", "file:/lake/a.csv", ["malformed"], 1)],
        "_raw_record string, _source_file string, _reasons array<string>, _quarantined int",
    )
    expected = spark.createDataFrame(
        [(date(2026, 11, 20), "file:/lake/a.csv", "x,y", ["malformed"], "run-1")],
        "ingest_date date, source_file string, raw_record string, reasons array<string>, run_id string",
    )
    actual = quarantine_rows(bad, date(2026, 11, 20), "run-1")
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_curated_rows_drop_bookkeeping_and_add_lineage(spark):
    good = spark.createDataFrame(
        [("E1", 90.0, "file:/lake/a.csv", "E1,90", [], 0)],
        "exam_id string, score double, _source_file string, _raw_record string, "
        "_reasons array<string>, _quarantined int",
    )
    actual = curated_rows(good, date(2026, 11, 20), "run-1")
    assert actual.columns == ["exam_id", "score", "ingest_date", "source_file", "run_id"]
    assert actual.first().asDict() == {
        "exam_id": "E1",
        "score": 90.0,
        "ingest_date": date(2026, 11, 20),
        "source_file": "file:/lake/a.csv",
        "run_id": "run-1",
    }
