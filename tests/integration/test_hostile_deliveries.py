"""Hostile raw deliveries, as real school systems send them, through the real exams.ingest_scores
job: every case is counted in the Delta tables afterwards (curated, quarantined with its reason,
or a duplicate), nothing fabricated, nothing misread, and a broken archive writes nothing."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakejobs import contracts
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import PipelineResult, run_jobs, select_jobs
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.integration

HOSTILE = date(2026, 11, 21)
TRUNCATED = date(2026, 11, 22)
KOREAN = date(2026, 11, 23)
HEADER = "exam_id,exam_date,subject,student_id,school_id,class_id,score"


def row(student: str, score: str, *, exam: str = "E1", subject: str = "math") -> str:
    return f"{exam},2026-06-01,{subject},{student},S1,C1,{score}"


# file name -> bytes of one delivery that every earlier version of the reader got wrong somehow
HOSTILE_FILES: dict[str, bytes] = {
    # quoted fields holding line breaks (LF and CRLF), doubled quotes; extra columns ignored
    "multiline.csv": (
        f"{HEADER},school_name,notes\n"
        f'{row("M01", "80")},"Seoul\nNorth High","line one\n100\nline three"\n'
        f'{row("M02", "81")},"Busan ""Central""\r\nHigh",ok\n'
    ).encode(),
    # CRLF and LF records in one file, the last without a line break
    "mixed.csv": (
        f"{HEADER}\r\n{row('M03', '70')}\r\n{row('M04', '71')}\n\r\n{row('M05', '72')}"
    ).encode(),
    # header names padded with blanks
    "trailing.csv": (
        "exam_id , exam_date,subject ,student_id,school_id,class_id,score  \t\n"
        f"{row('T01', '60')}\n"
    ).encode(),
    # Java's number grammar is not ours; -0 is zero
    "numbers.csv": "\n".join(
        [
            HEADER,
            row("N01", "7d"),
            row("N02", "90f"),
            row("N03", "0x1p6"),
            row("N04", "NaN"),
            row("N05", "Infinity"),
            row("N06", '"1,000"'),
            row("N07", "-0"),
        ]
    ).encode()
    + b"\n",
    # one student written four ways (NBSP, zero-width space, full-width), and a NUL in an id
    "invisible.csv": "\n".join(
        [
            HEADER,
            row("S001", "50"),
            row("S001\u00a0", "50"),
            row("S\u200b001", "50"),
            row("\uff33\uff10\uff10\uff11", "50"),
            row("S\x00002", "50"),
        ]
    ).encode()
    + b"\n",
    # a key no partition directory can hold
    "long.csv": f"{HEADER}\n{row('L01', '50', exam='E' * 300)}\n".encode(),
    # a file that is only a byte-order mark
    "bom_only.csv": b"\xef\xbb\xbf",
    # a Korean Excel export (CP949) while the contract says utf-8: both rows undecodable
    "cp949.csv": f"{HEADER}\n{row('K01', '90', subject='국어')}\n{row('K01', '80', subject='수학')}\n".encode(
        "cp949"
    ),
    # an exam scored out of 50
    "max50.csv": (
        f"{HEADER},max_score\n{row('X01', '45', exam='E50')},50\n{row('X02', '60', exam='E50')},50\n"
    ).encode(),
}
CURATED = {"M01", "M02", "M03", "M04", "M05", "T01", "N07", "S001", "X01"}
QUARANTINED = {
    ("bad_type:score",): 6,
    ("bad_text:student_id",): 1,
    ("bad_key:exam_id",): 1,
    ("bad_encoding",): 2,
    ("out_of_range:score",): 1,
}
DUPLICATES = 3


def settings_for(lake: Path):
    return dataclasses.replace(TEST_SETTINGS, lake=str(lake), max_quarantine_share=0.9)


def ingest(spark, lake: Path, day: date) -> PipelineResult:
    return run_jobs(
        spark, settings_for(lake), select_jobs("exams.ingest_scores"), day, echo=lambda _: None
    )


def deliver(lake: Path, day: date, files: dict[str, bytes]) -> None:
    directory = lake / "raw" / "exam_scores" / f"ingest_date={day}"
    directory.mkdir(parents=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)


def table(spark, lake: Path, name: str) -> DataFrame:
    location = Catalog(spark, LakeLayout(settings_for(lake).lake)).location(table_contract(name))
    return spark.read.format("delta").load(location)


def delivered(spark, lake: Path, name: str, day: date) -> DataFrame:
    return table(spark, lake, name).where(F.col("ingest_date") == F.lit(day))


def version(spark, lake: Path, name: str) -> int | None:
    return Catalog(spark, LakeLayout(settings_for(lake).lake)).version(table_contract(name))


def ingest_run(spark, lake: Path, day: date) -> dict:
    runs = table(spark, lake, "lakejobs.job_runs").where(F.col("run_date") == F.lit(day))
    (last,) = runs.orderBy(F.desc("started_at")).limit(1).collect()
    return last.asDict()


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile-lake")
    deliver(root, HOSTILE, HOSTILE_FILES)
    result = ingest(spark, root, HOSTILE)
    assert result.failed == ()
    return root


def test_every_hostile_record_is_curated_quarantined_or_a_duplicate(spark, lake):
    scores = delivered(spark, lake, "exams.scores", HOSTILE)
    quarantine = delivered(spark, lake, "exams.scores_quarantine", HOSTILE)
    assert {r["student_id"] for r in scores.collect()} == CURATED
    assert scores.count() == len(CURATED)  # nothing fabricated from inside quotes
    reasons = Counter(tuple(r["reasons"]) for r in quarantine.collect())
    assert reasons == QUARANTINED
    run = ingest_run(spark, lake, HOSTILE)
    assert run["status"] == "succeeded"
    assert run["rows_in"] == len(CURATED) + sum(QUARANTINED.values()) + DUPLICATES == 23
    assert (run["rows_written"], run["rows_quarantined"], run["rows_duplicates"]) == (
        len(CURATED),
        sum(QUARANTINED.values()),
        DUPLICATES,
    )


def test_multi_line_and_mixed_line_ending_records_keep_their_values(spark, lake):
    scores = {r["student_id"]: r for r in delivered(spark, lake, "exams.scores", HOSTILE).collect()}
    assert {s: scores[s]["score"] for s in ("M01", "M02", "M03", "M04", "M05", "T01")} == {
        "M01": 80.0,
        "M02": 81.0,
        "M03": 70.0,
        "M04": 71.0,
        "M05": 72.0,
        "T01": 60.0,
    }
    assert scores["M05"]["class_id"] == "C1"  # no CR, no lost last field
    assert (scores["X01"]["score"], scores["X01"]["max_score"]) == (45.0, 50.0)
    negative_zero = scores["N07"]["score"]
    assert negative_zero == 0.0 and math.copysign(1.0, negative_zero) == 1.0


def test_invisible_characters_do_not_make_one_student_several(spark, lake):
    scores = delivered(spark, lake, "exams.scores", HOSTILE).where("exam_id = 'E1'")
    assert [r["student_id"] for r in scores.where("student_id LIKE 'S%'").collect()] == ["S001"]
    quarantine = delivered(spark, lake, "exams.scores_quarantine", HOSTILE)
    (nul,) = quarantine.where(F.array_contains("reasons", "bad_text:student_id")).collect()
    assert nul["raw_record"] == row("S\u2400002", "50")  # NUL shown, not dropped
    assert nul["source_file"].endswith("/invisible.csv")


def test_undecodable_text_never_reaches_the_curated_table(spark, lake):
    scores = delivered(spark, lake, "exams.scores", HOSTILE)
    text = F.concat_ws("|", *[c for c, t in scores.dtypes if t == "string"])
    assert scores.where(text.contains("\ufffd")).isEmpty()
    quarantine = delivered(spark, lake, "exams.scores_quarantine", HOSTILE)
    bad = quarantine.where(F.array_contains("reasons", "bad_encoding")).collect()
    assert len(bad) == 2 and all("\ufffd" in r["raw_record"] for r in bad)
    assert all(r["source_file"].endswith("/cp949.csv") for r in bad)


def test_a_truncated_archive_fails_the_date_with_one_line_before_any_write(spark, lake):
    data = gzip.compress(
        ("\n".join([HEADER, *(row(f"G{i:03d}", "50") for i in range(500))])).encode()
    )
    deliver(
        lake,
        TRUNCATED,
        {
            "good.csv": f"{HEADER}\n{row('G999', '50')}\n".encode(),
            "broken.csv.gz": data[: len(data) // 2],
        },
    )
    before = {
        name: version(spark, lake, name) for name in ("exams.scores", "exams.scores_quarantine")
    }
    result = ingest(spark, lake, TRUNCATED)
    assert result.failed == ("exams.ingest_scores",)
    after = {
        name: version(spark, lake, name) for name in ("exams.scores", "exams.scores_quarantine")
    }
    assert after == before
    error = ingest_run(spark, lake, TRUNCATED)["error"]
    assert "\n" not in error and "/broken.csv.gz" in error
    assert "Unexpected end of input stream" in error


@pytest.fixture
def korean_contract(tmp_path, monkeypatch):
    """The real schemas with the exam_scores source declared as CP949 (Korean Excel's default)."""
    schemas = tmp_path / "schemas"
    shutil.copytree(contracts.schemas_dir(), schemas)
    path = schemas / "raw" / "exam_scores.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "encoding": "cp949"}))
    monkeypatch.setenv("LAKEJOBS_SCHEMAS", str(schemas))  # contracts are cached per folder
    yield


def test_a_declared_cp949_delivery_is_curated_with_its_korean_text_exact(
    spark, lake, korean_contract
):
    # K02's score is a typo: its quarantined record must show the Korean text readably too
    korean = "\n".join(
        [
            HEADER,
            row("K01", "90", subject="국어"),
            row("K01", "80", subject="수학"),
            row("K02", "9O", subject="국어"),
        ]
    )
    deliver(
        lake,
        KOREAN,
        {
            "cp949.csv": korean.encode("cp949"),
            # a UTF-8 file with a BOM in the same delivery: its BOM decides, not the contract
            "bom.csv": b"\xef\xbb\xbf" + f"{HEADER}\n{row('K01', '70', subject='영어')}\n".encode(),
        },
    )
    assert ingest(spark, lake, KOREAN).failed == ()
    scores = delivered(spark, lake, "exams.scores", KOREAN)
    assert {(r["subject"], r["score"]) for r in scores.collect()} == {
        ("국어", 90.0),
        ("수학", 80.0),
        ("영어", 70.0),
    }
    (typo,) = delivered(spark, lake, "exams.scores_quarantine", KOREAN).collect()
    assert (typo["raw_record"], typo["reasons"]) == (
        row("K02", "9O", subject="국어"),
        ["bad_type:score"],
    )
