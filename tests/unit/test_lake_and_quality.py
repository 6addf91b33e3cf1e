"""Raw lines are read by header name with nothing lost, and every bad line gets its reason."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lakejobs.contracts import RawSource, raw_source
from lakejobs.errors import DataQualityError, UsageError
from lakejobs.lake import parse_header, read_raw_csv
from lakejobs.quality import load_suite, validate_rows, validate_table

HEADER = "exam_id,exam_date,subject,student_id,school_id,class_id,score"
SOURCE = raw_source("exam_scores")


def write(directory: Path, name: str, text: str, *, bom: bool = False, crlf: bool = False) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if crlf:
        text = text.replace("\n", "\r\n")
    data = (("\ufeff" if bom else "") + text).encode()
    if name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    (directory / name).write_bytes(data)


def rows_by_student(df) -> dict:
    return {r["student_id"]: r for r in df.collect()}


def test_columns_are_matched_by_header_name_whatever_their_order(spark, tmp_path):
    write(tmp_path, "a.csv", f"{HEADER}\nE1,2026-06-01,math,ST1,S1,C1,90\n", bom=True, crlf=True)
    write(
        tmp_path,
        "b.csv.gz",
        "score,class_id,school_id,student_id,subject,exam_date,exam_id\n"
        "75.5,C2,S2,ST2,math,2026-06-01,E1\n",
    )
    rows = rows_by_student(read_raw_csv(spark, SOURCE, f"file:{tmp_path}"))
    assert rows["ST1"]["score"] == "90" and rows["ST1"]["school_id"] == "S1"
    assert rows["ST2"]["score"] == "75.5" and rows["ST2"]["class_id"] == "C2"
    assert rows["ST1"]["_raw_record"] == "E1,2026-06-01,math,ST1,S1,C1,90"  # no BOM, no CR
    assert rows["ST2"]["_source_file"].endswith("/b.csv.gz")
    assert not any(r["_malformed"] for r in rows.values())


def test_blank_lines_and_headers_are_not_data_but_every_other_line_is(spark, tmp_path):
    write(
        tmp_path,
        "a.csv",
        f"{HEADER}\n\nE1,2026-06-01,math,ST1,S1,C1,90\n"
        "E1,2026-06-01,math,ST2\ngarbage without commas\n"
        'E1,2026-06-01,math,"ST,3",S1,C1,80,extra\n\n',
    )
    df = read_raw_csv(spark, SOURCE, f"file:{tmp_path}")
    malformed = sorted(r["_raw_record"] for r in df.where("_malformed").collect())
    assert df.count() == 4
    assert malformed == [
        'E1,2026-06-01,math,"ST,3",S1,C1,80,extra',
        "E1,2026-06-01,math,ST2",
        "garbage without commas",
    ]


def test_quoted_commas_do_not_shift_fields(spark, tmp_path):
    write(tmp_path, "a.csv", f'{HEADER}\nE1,2026-06-01,"math, advanced",ST1,"S1",C1,90\n')
    (row,) = read_raw_csv(spark, SOURCE, f"file:{tmp_path}").collect()
    assert (row["subject"], row["school_id"], row["_malformed"]) == ("math, advanced", "S1", False)


def test_a_file_missing_a_required_column_fails_naming_missing_and_present(spark, tmp_path):
    write(tmp_path, "a.csv", "exam_id,exam_date,subject,student_id,school_id,class_id\nE1\n")
    with pytest.raises(DataQualityError) as error:
        read_raw_csv(spark, SOURCE, f"file:{tmp_path}")
    assert str(error.value) == (
        f"raw file file:{tmp_path}/a.csv is missing required column(s) score "
        "(present: exam_id, exam_date, subject, student_id, school_id, class_id)"
    )


def test_a_missing_delivery_is_a_clear_error(spark, tmp_path):
    with pytest.raises(
        DataQualityError, match=r"^no raw exam_scores files \(\*\.csv, \*\.csv\.gz\) in "
    ):
        read_raw_csv(spark, SOURCE, f"file:{tmp_path}/nothing-here")


def test_a_record_is_one_row_whatever_its_line_breaks(spark, tmp_path):
    write(
        tmp_path,
        "a.csv",
        f'{HEADER},notes\r\nE1,2026-06-01,math,ST1,"S\r\n1",C1,90,"a\n80\nb"\n'
        "E1,2026-06-01,math,ST2,S1,C1,70\n\r\nE1,2026-06-01,math,ST3,S1,C1,60",
    )
    rows = rows_by_student(read_raw_csv(spark, SOURCE, f"file:{tmp_path}"))
    assert sorted(rows) == ["ST1", "ST2", "ST3"]
    assert rows["ST1"]["school_id"] == "S\r\n1" and rows["ST1"]["score"] == "90"
    assert rows["ST1"]["_raw_record"] == 'E1,2026-06-01,math,ST1,"S\r\n1",C1,90,"a\n80\nb"'
    assert rows["ST2"]["_malformed"]  # one field short: no notes
    assert (rows["ST3"]["score"], rows["ST3"]["_malformed"]) == ("60", True)


def test_a_file_of_only_a_bom_has_no_records_and_a_utf16_bom_decides(spark, tmp_path):
    write(tmp_path, "empty.csv", "", bom=True)
    (tmp_path / "u16.csv").write_bytes(
        f"{HEADER}\r\nE1,2026-06-01,국어,ST1,S1,C1,90\r\n".encode("utf-16")
    )
    (row,) = read_raw_csv(spark, SOURCE, f"file:{tmp_path}").collect()
    assert (row["subject"], row["score"], row["_malformed"]) == ("국어", "90", False)


def test_a_delivery_of_empty_files_is_a_clear_error(spark, tmp_path):
    write(tmp_path, "a.csv", "\n\n", bom=True)
    with pytest.raises(DataQualityError, match=r"^raw exam_scores files in .* are all empty$"):
        read_raw_csv(spark, SOURCE, f"file:{tmp_path}")


def test_a_truncated_archive_is_one_line_naming_the_file(spark, tmp_path):
    data = gzip.compress((HEADER + "\n" + "E1,2026-06-01,math,ST1,S1,C1,90\n" * 2000).encode())
    (tmp_path / "a.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataQualityError) as error:
        read_raw_csv(spark, SOURCE, f"file:{tmp_path}")
    assert str(error.value) == (
        f"raw file file:{tmp_path}/a.csv.gz cannot be read "
        "(java.io.EOFException: Unexpected end of input stream): nothing written"
    )


def test_an_unknown_encoding_fails_at_contract_load():
    with pytest.raises(UsageError, match="unknown encoding 'latin-9'"):
        RawSource("exam_scores", "csv", (), encoding="latin-9")


def test_parse_header_strips_bom_quotes_case_and_blanks():
    assert parse_header('\ufeff"Exam_ID", score \r\n') == ("exam_id", "score")


BAD_LINES = {
    "ST1": ("E1,2026-06-01,math,ST1,S1,C1,90", []),
    "ST2": ("E1,2026-06-01,math,ST2,S1,C1,abc", ["bad_type:score"]),
    "ST3": ("E1,2026-02-30,math,ST3,S1,C1,50", ["bad_type:exam_date"]),
    "ST4": ("E1,2026-06-01,math,ST4,S1,C1,100.5", ["out_of_range:score"]),
    "ST5": ("E1,2026-06-01,math,ST5,S1,C1,-1", ["out_of_range:score"]),
    "ST6": ("E1,2026-06-01,math,ST6,,C1,", ["null:school_id", "null:score"]),
    "ST7": ("E1,2026-06-01,math,ST7,S1,C1", ["malformed"]),
    "ST8": ("E1,2026-06-01,math,ST8,S1,C1,   ", ["null:score"]),
}


def test_each_bad_value_gets_its_own_reason(spark, tmp_path):
    write(
        tmp_path, "a.csv", HEADER + "\n" + "\n".join(line for line, _ in BAD_LINES.values()) + "\n"
    )
    staged = validate_rows(
        read_raw_csv(spark, SOURCE, f"file:{tmp_path}"), SOURCE, load_suite("exams.scores")
    )
    reasons = {r["_raw_record"]: sorted(r["_reasons"]) for r in staged.collect()}
    assert reasons == {line: sorted(expected) for line, expected in BAD_LINES.values()}
    assert staged.where("_quarantined = 1").count() == len(BAD_LINES) - 1


def test_an_exam_may_declare_its_own_maximum_score(spark, tmp_path):
    write(
        tmp_path,
        "a.csv",
        f"{HEADER},max_score\nE9,2026-06-01,math,ST1,S1,C1,140,150\n"
        "E9,2026-06-01,math,ST2,S1,C1,160,150\nE1,2026-06-01,math,ST3,S1,C1,140,\n",
    )
    staged = validate_rows(
        read_raw_csv(spark, SOURCE, f"file:{tmp_path}"), SOURCE, load_suite("exams.scores")
    )
    reasons = {r["student_id"]: r["_reasons"] for r in staged.collect()}
    assert reasons == {"ST1": [], "ST2": ["out_of_range:score"], "ST3": ["out_of_range:score"]}


def test_table_level_rules_fail_with_one_line_naming_the_rule(spark, tmp_path):
    write(tmp_path, "a.csv", HEADER + "\nE1,2026-06-01,math,ST1,S1,C1,90\nE1,x,math,ST2,S1,C1,90\n")
    staged = validate_rows(
        read_raw_csv(spark, SOURCE, f"file:{tmp_path}"), SOURCE, load_suite("exams.scores")
    )
    validate_table(staged, load_suite("exams.scores"), max_quarantine_share=0.5)
    with pytest.raises(DataQualityError) as error:
        validate_table(staged, load_suite("exams.scores"), max_quarantine_share=0.2)
    assert str(error.value) == (
        "exams.scores: table-level expectation failed, nothing written: "
        "expect_column_mean_to_be_between(column=_quarantined, min_value=0.0, max_value=0.2) "
        "observed 0.5 [quarantine_share]"
    )
