"""The benchmarks run end to end at 10^4 rows: each prints its RESULT line and its cross-check
passes. No timing is asserted: numbers at this size are start-up noise, and CI machines vary."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

REPO = Path(__file__).resolve().parents[2]
ROWS = 10_000
# Generous: on a quiet 2-core machine both finish in about a minute, on a busy one much later.
TIMEOUT_S = 900


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Both benchmarks started at once (each is mostly JVM and metastore latency), each with
    its own data folder; tests wait for the one they check."""
    commands = {
        "grading": ["bench/grading.py", "--skip-mariadb", "--cold"],
        "grading_alone": [
            "bench/grading.py",
            "--skip-mariadb",
            "--skip-naive",
            "--skip-duckdb",
            "--cold",
        ],
        "groupby": ["bench/groupby.py", "--cold"],
        "ingest": ["bench/ingest.py", "--cold", "--redeliver", "0.01"],
        "pipeline": ["bench/pipeline.py"],
    }
    started = {
        name: subprocess.Popen(
            [
                sys.executable,
                script,
                *extra,
                "--rows",
                str(ROWS),
                "--data-dir",
                str(tmp_path_factory.mktemp(name)),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (script, *extra) in commands.items()
    }
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    return process.returncode, stdout, stderr


def test_grading_bench_cross_checks_all_engines_and_ends_with_its_result_line(runs):
    code, stdout, stderr = finished(runs["grading"])
    assert code == 0, f"exit {code}\n{stdout[-2000:]}\n{stderr[-4000:]}"
    assert (
        "cross-check passed: identical grade histograms from lakejobs, naive_spark, duckdb, "
        "duckdb_hist" in stdout
    )
    last = stdout.strip().splitlines()[-1]
    kind, *pairs = last.split()[1:]
    fields = dict(pair.split("=", 1) for pair in pairs)
    assert (last.split()[0], kind) == ("RESULT", "grading")
    assert list(fields) == [
        "rows",
        "lakejobs_s",
        "duckdb_s",
        "duckdb_hist_s",
        "naive_spark_s",
        "mariadb_s",
        "ratio_vs_duckdb",
        "ratio_vs_best_duckdb",
        "peak_rss_gb",
    ]
    assert fields["rows"] == str(ROWS)
    assert fields["mariadb_s"] == "skipped"
    assert float(fields["peak_rss_gb"]) > 0


def test_groupby_bench_cross_checks_q1_to_q10_and_ends_with_its_result_line(runs):
    code, stdout, stderr = finished(runs["groupby"])
    assert code == 0, f"exit {code}\n{stdout[-2000:]}\n{stderr[-4000:]}"
    assert "cross-check passed" in stdout
    for question in ("q1 ", "q10 "):
        assert any(line.startswith(question) for line in stdout.splitlines())
    last = stdout.strip().splitlines()[-1]
    assert last.startswith(f"RESULT groupby rows={ROWS} lakejobs_s=")
    assert "ratio_vs_duckdb=" in last


def test_grading_bench_alone_reports_the_skipped_baselines_and_no_ratio(runs):
    """How the 1e9 run is made: lakejobs only, its own checks (all rows graded) still apply."""
    code, stdout, stderr = finished(runs["grading_alone"])
    assert code == 0, f"exit {code}\n{stdout[-2000:]}\n{stderr[-4000:]}"
    assert "cross-check passed: identical grade histograms from lakejobs\n" in stdout
    assert "spill" in stdout  # the table's spill column, read from Spark's event log
    last = stdout.strip().splitlines()[-1]
    assert f"RESULT grading rows={ROWS} lakejobs_s=" in last
    for field in (
        "duckdb_s=skipped",
        "duckdb_hist_s=skipped",
        "naive_spark_s=skipped",
        "ratio_vs_duckdb=n/a",
        "ratio_vs_best_duckdb=n/a",
    ):
        assert field in last.split(), last


def result_fields(stdout: str, kind: str) -> dict[str, str]:
    last = stdout.strip().splitlines()[-1]
    words = last.split()
    assert words[:2] == ["RESULT", kind], last
    return dict(word.split("=", 1) for word in words[2:])


def test_ingest_bench_agrees_with_the_deliverys_accounting_and_ends_with_its_result_line(runs):
    """From raw files: lakejobs and DuckDB must both count exactly what the generator wrote
    (the strict number grammar included: `7d` and `0x1p6` are quarantined by both)."""
    code, stdout, stderr = finished(runs["ingest"])
    assert code == 0, f"exit {code}\n{stdout[-2000:]}\n{stderr[-4000:]}"
    assert "accounting agrees with the delivery: lakejobs, duckdb" in stdout
    fields = result_fields(stdout, "ingest")
    assert list(fields) == [
        "rows",
        "lakejobs_s",
        "lakejobs_cpu_s",
        "duckdb_s",
        "duckdb_cpu_s",
        "spark_floor_s",
        "ratio_vs_duckdb",
        "cpu_ratio_vs_duckdb",
    ]
    assert fields["rows"] == str(ROWS)
    assert float(fields["lakejobs_cpu_s"]) > 0 and float(fields["duckdb_cpu_s"]) > 0
    # The corrected re-delivery of 1 % of the keys: its MERGE's own metrics, read from Delta.
    redelivery = next(line for line in stdout.splitlines() if line.startswith("RESULT redelivery"))
    figures = dict(word.split("=", 1) for word in redelivery.split()[2:])
    assert 0 < int(figures["keys"]) < ROWS // 50
    assert 0 < int(figures["files_removed"]) <= int(figures["files_before"])
    assert int(figures["bytes_added"]) > 0


def test_pipeline_bench_cross_checks_raw_to_grades_and_ends_with_its_result_line(runs):
    code, stdout, stderr = finished(runs["pipeline"])
    assert code == 0, f"exit {code}\n{stdout[-2000:]}\n{stderr[-4000:]}"
    assert (
        "cross-check passed: accounting equals the delivery's, grade histograms identical" in stdout
    )
    fields = result_fields(stdout, "pipeline")
    assert fields["rows"] == str(ROWS)
    assert {"lakejobs_s", "duckdb_s", "ratio_vs_duckdb", "cpu_ratio_vs_duckdb"} <= set(fields)
