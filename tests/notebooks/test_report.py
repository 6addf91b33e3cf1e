"""`lakejobs report exams`: the cut-off table and grade distribution of one exam as PNG or HTML,
from the curated tables of a generated lake; unknown exams and bad file names are one-line errors."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from jobs.exams.plots import (
    ExamReport,
    Provenance,
    counts_rows,
    cutoff_table,
    exam_report,
    grade_shares,
    list_exams,
    load_exam_report,
    render_html,
    target_shares,
    write_report,
)
from lakejobs.cli import main
from lakejobs.config import Settings
from lakejobs.errors import UsageError

pytestmark = pytest.mark.notebooks

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def lake_uri(lake: Path) -> str:
    return f"file:{lake}"


def settings_for(lake: Path) -> Settings:
    return Settings(profile="test", lake=str(lake), master="local[1]")


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
    report = load_exam_report(settings_for(curated_lake), exam_id)
    out = write_report(report, tmp_path / "report.png")
    data = out.read_bytes()
    width, height = png_size(data)
    assert width >= 800 and height >= 400
    assert len(data) > 20_000  # bars, a heat map and labels, not an empty canvas


def test_html_report_embeds_the_picture_the_counts_and_the_cutoff_table(
    spark, curated_lake, exam_id, tmp_path
):
    report = load_exam_report(settings_for(curated_lake), exam_id)
    text = write_report(report, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in text
    assert text.count("<thead><tr>") == 2  # one header row per table
    subjects = sorted(report.cutoffs["subject"].unique())
    for subject in subjects:
        assert f"<td>{subject}</td>" in text  # a row of the cut-off table
        assert f"<th>{subject}</th>" in text  # a column of the counts table
    grades = sorted(report.cutoffs["grade"].unique())
    assert len(re.findall(r"<th>grade \d+</th>", text)) == len(grades)
    first = report.cutoffs.sort_values(["subject", "grade"]).iloc[0]
    assert f"<td>{first['min_score']:g}</td>" in text
    # Provenance: the version and the run that wrote it, as in the Delta table and the run log.
    version = spark.sql(
        f"DESCRIBE HISTORY delta.`{lake_uri(curated_lake)}/curated/exams/grade_cutoffs` LIMIT 1"
    ).first()["version"]
    assert f"exams.grade_cutoffs v{version}" in text
    assert "by run exams.grade@" in text
    students = int(report.cutoffs["count"].sum())
    assert sum(report.group_sizes.values()) == students


def test_target_shares_follow_the_schemes_cumulative_percents():
    assert target_shares("csat9") == {1: 4, 2: 7, 3: 12, 4: 17, 5: 20, 6: 17, 7: 12, 8: 7, 9: 4}
    assert target_shares("hs5") == {1: 10, 2: 24, 3: 32, 4: 24, 5: 10}
    assert target_shares("retired-scheme") == {}


SMALL_CUTOFFS = pd.DataFrame(
    {
        "exam_id": ["E1"] * 4 + ["E0"],
        "subject": ["math", "math", "korean", "korean", "math"],
        "scheme": ["hs5"] * 5,
        "grade": [1, 2, 1, 3, 1],
        "min_score": [90.0, 70.0, 95.0, 60.0, 50.0],
        "count": [1, 3, 2, 6, 9],
        "share": [0.25, 0.75, 0.25, 0.75, 1.0],
    }
)


def small_report() -> ExamReport:
    provenance = Provenance("exams.grade_cutoffs", 3, None, "exams.grade@2026-11-20#ab", None)
    return exam_report(SMALL_CUTOFFS, "E1", provenance)


def test_counts_table_marks_targets_and_gives_group_sizes():
    report = small_report()
    header, rows = counts_rows(report)
    assert header == ["grade", "target share", "korean", "math"]
    assert rows[0] == ["1", "10%", "2 (25.0%)", "1 (25.0%)"]
    assert rows[1] == ["2", "24%", "0 (0.0%)", "3 (75.0%)"]
    assert rows[3] == ["4", "24%", "0 (0.0%)", "0 (0.0%)"]  # a target nobody reached
    assert rows[-1] == ["students", "100%", "8", "4"]
    assert report.group_sizes == {"korean": 8, "math": 4}


def test_exams_are_listed_with_their_students():
    assert list_exams(SMALL_CUTOFFS).to_dict("records") == [
        {"exam_id": "E0", "scheme": "hs5", "subjects": 1, "students": 9},
        {"exam_id": "E1", "scheme": "hs5", "subjects": 2, "students": 12},
    ]


def test_an_unknown_exam_points_at_the_list():
    with pytest.raises(UsageError, match=r"known: E0, E1; `lakejobs report exams --list`"):
        exam_report(SMALL_CUTOFFS, "E9", None)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run `make bootstrap` (apt-get install chromium)")
    return found


def headless(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_html_page_renders_in_a_browser_with_its_table_and_figure(tmp_path: Path):
    from PIL import Image

    page = write_report(small_report(), tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    rendered = headless(
        page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1400"
    )
    assert shot.is_file(), rendered.stderr
    image = Image.open(shot).convert("L")
    assert image.size == (1280, 1400)
    histogram = image.histogram()
    dark = sum(histogram[:128]) / (image.size[0] * image.size[1])
    assert 0.01 < dark < 0.6  # text, table rules and the figure: neither blank nor a black page
    assert image.crop((0, 0, 1280, 700)).getextrema()[0] < 100  # something drawn at the top

    dom = headless(page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    assert '<table class="counts">' in dom.stdout
    assert "<td>students</td><td>100%</td><td>8</td><td>4</td>" in dom.stdout
    assert "<th>target share</th>" in dom.stdout
    assert "Source: exams.grade_cutoffs v3 by run exams.grade@2026-11-20#ab" in dom.stdout
    assert "data:image/png;base64," in dom.stdout


def test_html_escapes_the_exam_id():
    cutoffs = pd.DataFrame(
        {"subject": ["m"], "grade": [1], "min_score": [1.0], "count": [1], "share": [1.0]}
    )
    page = render_html(
        ExamReport("<script>", "csat9", cutoffs, cutoffs[["subject", "grade", "count"]]),
        PNG_MAGIC,
    )
    assert "Source: unknown." in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_unknown_exam_id_names_known_ones(spark, curated_lake, exam_id):
    with pytest.raises(UsageError) as error:
        load_exam_report(settings_for(curated_lake), "NO-SUCH-EXAM")
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
