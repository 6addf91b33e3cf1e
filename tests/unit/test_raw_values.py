"""Raw values are read strictly: plain decimal numbers, no control characters, nothing undecodable,
and key columns normalised by one rule and checked against what the table layer can store."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import functions as F

from lakejobs.contracts import raw_source
from lakejobs.quality import key_unstorable, load_suite, normalize_key, validate_rows

SOURCE = raw_source("exam_scores")
SUITE = load_suite("exams.scores")
KEYS = ("exam_id", "subject", "student_id")
GOOD = {
    "exam_id": "E1",
    "exam_date": "2026-06-01",
    "subject": "math",
    "student_id": "ST1",
    "school_id": "S1",
    "class_id": "C1",
    "score": "90",
    "max_score": None,
}


def validated(spark, rows: list[dict]) -> list:
    """validate_rows on raw string rows built in memory (no files): one result per input row."""
    names = [*SOURCE.names, "_source_file", "_raw_record", "_malformed"]
    data = [
        (*[{**GOOD, **row}[n] for n in SOURCE.names], "mem", str(i), False)
        for i, row in enumerate(rows)
    ]
    schema = ", ".join(f"`{n}` STRING" for n in names[:-1]) + ", `_malformed` BOOLEAN"
    raw = spark.createDataFrame(data, schema)
    result = validate_rows(raw, SOURCE, SUITE, keys=KEYS).orderBy(F.col("_raw_record").cast("int"))
    return result.collect()


PLAIN_NUMBERS = {
    "90": 90.0,
    "+7": 7.0,
    "7.5": 7.5,
    ".5": 0.5,
    "5.": 5.0,
    "1e1": 10.0,
    "1E+1": 10.0,
    "25e-1": 2.5,
    " 42 ": 42.0,
    "007": 7.0,
}
NOT_NUMBERS = [
    "7d",
    "90f",
    "90F",
    "7D",
    "0x1p6",
    "0x10",
    "NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1,000",
    "1 000",
    "1_000",
    "1e999",
    "1e",
    "e5",
    "--1",
    "+-1",
    "7O",
    "\u0669\u0660",  # Arabic-Indic digits 90: not the plain grammar
    "\uff19\uff10",  # full-width digits 90
]


def test_numbers_follow_the_plain_decimal_grammar(spark):
    rows = validated(spark, [{"score": text} for text in [*PLAIN_NUMBERS, *NOT_NUMBERS]])
    accepted = {
        text: (r["score"], r["_reasons"])
        for text, r in zip(PLAIN_NUMBERS, rows[: len(PLAIN_NUMBERS)], strict=True)
    }
    assert accepted == {text: (value, []) for text, value in PLAIN_NUMBERS.items()}
    rejected = {
        text: r["_reasons"] for text, r in zip(NOT_NUMBERS, rows[len(PLAIN_NUMBERS) :], strict=True)
    }
    assert rejected == {text: ["bad_type:score"] for text in NOT_NUMBERS}
    assert all(r["score"] is None for r in rows[len(PLAIN_NUMBERS) :])


@pytest.mark.parametrize("text", ["-0", "-0.0", "-0e5", "+0"])
def test_negative_zero_is_stored_as_zero(spark, text):
    (row,) = validated(spark, [{"score": text}])
    assert row["_reasons"] == [] and row["score"] == 0.0
    assert math.copysign(1.0, row["score"]) == 1.0


def test_max_score_is_read_by_the_same_grammar(spark):
    rows = validated(
        spark, [{"score": "45", "max_score": "50"}, {"score": "45", "max_score": "5e1f"}]
    )
    assert [(r["max_score"], r["_reasons"]) for r in rows] == [
        (50.0, []),
        (None, ["bad_type:max_score"]),
    ]


def test_control_characters_quarantine_text_and_keys(spark):
    rows = validated(
        spark,
        [
            {"school_id": "S\x001"},
            {"student_id": "ST\x002"},
            {"class_id": "C\x7f1"},
            {"school_id": "Seoul\nNorth"},  # a line break in ordinary text is text
            {"student_id": "ST\t3"},  # but not inside a key
            {"subject": "ma\x85th"},  # C1 control (NEL) inside a key
            {"subject": "math\x85"},  # but at its end NEL is whitespace, trimmed
            {"class_id": "C\x9b1"},  # C1 control in text
        ],
    )
    assert [r["_reasons"] for r in rows] == [
        ["bad_text:school_id"],
        ["bad_text:student_id"],
        ["bad_text:class_id"],
        [],
        ["bad_text:student_id"],
        ["bad_text:subject"],
        [],
        ["bad_text:class_id"],
    ]


def test_undecodable_text_is_bad_encoding(spark):
    rows = validated(spark, [{"subject": "\ufffd\ufffd"}, {"school_id": "S\ufffd"}])
    assert [r["_reasons"] for r in rows] == [["bad_encoding"], ["bad_encoding"]]


KEY_FORMS = {
    "S001": "S001",
    "S001\u00a0": "S001",  # NBSP
    "S\u200b001": "S001",  # zero-width space inside
    "\ufeffS001\u2060": "S001",  # BOM, word joiner
    "\u3000S001 \t": "S001",  # ideographic space, blanks
    "ＳＴ００１": "ST001",  # full-width (NFKC)  # noqa: RUF001
    "\ufb01le": "file",  # ligature (NFKC)
    "\u1100\u116e\u11a8\uc5b4": "\uad6d\uc5b4",  # decomposed Hangul composes
    "S 001": "S 001",  # inner blanks are part of the value
    "\u00a0\u200b": None,  # nothing left: null
    "국어": "국어",
}


def test_keys_are_normalised_by_one_rule(spark):
    df = spark.createDataFrame([(k,) for k in KEY_FORMS], "v STRING")
    got = [r["n"] for r in df.select(normalize_key(F.col("v")).alias("n")).collect()]
    assert dict(zip(KEY_FORMS, got, strict=True)) == KEY_FORMS


def test_invisible_variants_of_one_key_are_one_key_after_validation(spark):
    rows = validated(
        spark,
        [{"student_id": s} for s in ("S001", "S001\u00a0", "S\u200b001", "Ｓ００１")],  # noqa: RUF001
    )
    assert {r["student_id"] for r in rows} == {"S001"}
    assert all(r["_reasons"] == [] for r in rows)


STORABLE = {
    "E" * 200: False,
    "E" * 201: True,
    "가" * 66: False,  # 198 bytes
    "가" * 67: True,  # 201 bytes
    ":" * 66: False,  # escaped %3A: 198 bytes
    ":" * 67: True,
    "a/b": True,
    "a\\b": True,
    ".": True,
    "..": True,
    "...": False,
    "2026:MOCK#1": False,
}


def test_key_values_the_table_cannot_store_are_recognised(spark):
    df = spark.createDataFrame([(k,) for k in STORABLE], "v STRING")
    got = [r["bad"] for r in df.select(key_unstorable(F.col("v")).alias("bad")).collect()]
    assert dict(zip(STORABLE, got, strict=True)) == STORABLE


def test_an_unstorable_key_is_quarantined_with_its_reason(spark):
    rows = validated(spark, [{"exam_id": "E" * 300}, {"student_id": "../etc"}, {"exam_id": "E2"}])
    assert [r["_reasons"] for r in rows] == [["bad_key:exam_id"], ["bad_key:student_id"], []]
