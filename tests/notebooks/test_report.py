"""`lakejobs report exams`: the cut-off table and grade distribution of one exam as PNG or HTML,
from the curated tables of a generated lake; unknown exams and bad file names are one-line errors."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pandas as pd
import pytest

from lakejobs.cli import main
from lakejobs.errors import UsageError
from lakejobs.plots import (
    ExamReport,
    cutoff_table,
    grade_shares,
    load_exam_report,
    render_html,
    write_report,
)

pytestmark = pytest.mark.notebooks

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def lake_uri(lake: Path) -> str:
    return f"file:{lake}"


@pytest.fixture(scope="module")
def exam_id(spark, curated_lake: Path) -> str:
    cutoffs = spark.read.format("delta").load(
        f"{lake_uri(curated_lake)}/curated/exams/grade_cutoffs"
    )
    return sorted(r["exam_id"] for r in cutoffs.select("exam_id").distinct().collect())[-1]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR is always the first chunk)."""
    assert data.startswith(PNG_MAGIC)
    return struct.unpack(">II", data[16:24])


def test_cutoff_table_has_one_row_per_subject_and_one_column_per_grade():
    cutoffs = pd.DataFrame(
        {
            "subject": ["math", "math", "korean", "korean"],
            "grade": [1, 2, 1, 2],
            "min_score": [90.0, 70.0, 95.0, 60.0],
            "count": [1, 3, 1, 3],
            "share": [0.25, 0.75, 0.25, 0.75],
        }
    )
    table = cutoff_table(cutoffs)
    assert list(table.index) == ["korean", "math"]
    assert list(table.columns) == ["grade 1", "grade 2"]
    assert table.loc["math", "grade 2"] == 70.0


def test_grade_shares_sum_to_100_per_subject():
    distribution = pd.DataFrame(
        {"subject": ["a", "a", "b"], "grade": [1, 2, 2], "count": [1, 3, 5]}
    )
    shares = grade_shares(distribution)
    assert shares.sum().round(6).to_dict() == {"a": 100.0, "b": 100.0}
    assert shares.loc[1, "b"] == 0.0


def test_png_report_is_a_real_picture(spark, curated_lake, exam_id, tmp_path):
    report = load_exam_report(spark, lake_uri(curated_lake), exam_id)
    out = write_report(report, tmp_path / "report.png")
    data = out.read_bytes()
    width, height = png_size(data)
    assert width >= 800 and height >= 400
    assert len(data) > 20_000  # bars, a heat map and labels, not an empty canvas


def test_html_report_embeds_the_picture_and_the_cutoff_table(
    spark, curated_lake, exam_id, tmp_path
):
    report = load_exam_report(spark, lake_uri(curated_lake), exam_id)
    text = write_report(report, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in text
    assert '<table class="dataframe cutoffs">' in text
    subjects = sorted(report.cutoffs["subject"].unique())
    for subject in subjects:
        assert f"<th>{subject}</th>" in text
    grades = sorted(report.cutoffs["grade"].unique())
    assert len(re.findall(r"<th>grade \d+</th>", text)) == len(grades)
    first = report.cutoffs.sort_values(["subject", "grade"]).iloc[0]
    assert f"<td>{first['min_score']:g}</td>" in text


def test_html_escapes_the_exam_id():
    cutoffs = pd.DataFrame(
        {"subject": ["m"], "grade": [1], "min_score": [1.0], "count": [1], "share": [1.0]}
    )
    page = render_html(
        ExamReport("<script>", "csat9", cutoffs, cutoffs[["subject", "grade", "count"]]),
        PNG_MAGIC,
    )
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_unknown_exam_id_names_known_ones(spark, curated_lake, exam_id):
    with pytest.raises(UsageError) as error:
        load_exam_report(spark, lake_uri(curated_lake), "NO-SUCH-EXAM")
    assert str(error.value).startswith("unknown exam id 'NO-SUCH-EXAM' (known: ")
    assert exam_id in str(error.value)


def test_a_bad_output_name_is_a_one_line_error_before_spark_starts(tmp_path, capsys):
    code = main(["report", "exams", "--exam-id", "X", "--out", str(tmp_path / "r.pdf")])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err.strip()
        == f"lakejobs: error: --out {tmp_path / 'r.pdf'}: expected a .png or .html file name"
    )
