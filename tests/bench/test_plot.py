"""bench/plot.py: RESULT lines become one figure per benchmark; unfinished runs stay visible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))  # the bench scripts import their siblings by name
import plot  # noqa: E402

LINES = [
    "some other output",
    "RESULT grading rows=1000 lakejobs_s=9.00 duckdb_s=1.00 naive_spark_s=5.00 mariadb_s=skipped "
    "ratio_vs_duckdb=9.00 peak_rss_gb=1.00",
    "RESULT grading rows=1000 lakejobs_s=8.00 duckdb_s=1.50 naive_spark_s=failed "
    "mariadb_s=timeout ratio_vs_duckdb=5.33 peak_rss_gb=1.00",
    "RESULT grading rows=1000000000 lakejobs_s=1900.00 duckdb_s=skipped naive_spark_s=skipped "
    "mariadb_s=skipped ratio_vs_duckdb=n/a peak_rss_gb=9.00",
    "RESULT groupby rows=1000 lakejobs_s=4.00 duckdb_s=0.50 ratio_vs_duckdb=8.00",
]


def test_the_last_line_per_size_wins_and_skipped_engines_are_left_out():
    results = plot.parse_results(LINES)
    assert results["grading"][1000] == {
        "lakejobs": 8.0,
        "duckdb": 1.5,
        "naive_spark": "failed",
        "mariadb": "timeout",
    }
    assert results["grading"][10**9] == {"lakejobs": 1900.0}
    assert results["groupby"] == {1000: {"lakejobs": 4.0, "duckdb": 0.5}}


def test_draw_gives_one_panel_per_benchmark_and_marks_unfinished_runs():
    figure = plot.draw(plot.parse_results(LINES))
    grading, groupby = figure.axes
    labels = [text.get_text() for text in grading.texts]
    assert labels == ["naive_spark: failed", "mariadb: timeout"]
    assert {line.get_label() for line in groupby.get_lines()} == {"lakejobs", "duckdb"}


def test_cli_says_clearly_when_there_is_nothing_to_draw(tmp_path):
    empty = tmp_path / "results.txt"
    empty.write_text("no results here\n", encoding="utf-8")
    for results in (empty, tmp_path / "missing.txt"):
        done = subprocess.run(
            [sys.executable, "bench/plot.py", "--results", str(results), "--out", "x.png"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2
        assert str(results) in done.stderr
        assert "Traceback" not in done.stderr
