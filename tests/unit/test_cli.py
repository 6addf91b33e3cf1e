"""CLI contract: bad input → one line on stderr and exit 2; no tracebacks without --debug."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lakejobs.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakejobs.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "exams", "--date", "2026-13-01"],
            "lakejobs: error: invalid --date '2026-13-01': expected a date as YYYY-MM-DD",
        ),
        (
            ["run", "exams", "--date", "20261120"],
            "lakejobs: error: invalid --date '20261120': expected a date as YYYY-MM-DD",
        ),
        (
            ["run", "nosuchjob", "--date", "2026-11-20"],
            "lakejobs: error: unknown job or domain 'nosuchjob' (domains: ",
        ),
        (
            ["run", "exams", "--date", "2026-11-20", "--profile", "nope"],
            "lakejobs: error: unknown profile 'nope' (known: emr, local, s3, standalone, yarn; defined in ",
        ),
        (
            ["run", "exams", "--date", "2026-11-20", "--lake", "/nonexistent/lake"],
            "lakejobs: error: lake not found: /nonexistent/lake (create it with "
            "`lakejobs generate exams --lake /nonexistent/lake --date YYYY-MM-DD`)",
        ),
        (["frobnicate"], "lakejobs: error: argument command: invalid choice: 'frobnicate'"),
        (
            ["generate", "exams", "--date", "2026-11-20", "--rows", "0"],
            "lakejobs: error: argument --rows: must be at least 1, got 0",
        ),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args: list[str], message: str, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_help_explains_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("run", "generate", "tables", "demo"):
        assert command in result.stdout


def test_spark_submit_dry_run_prints_the_full_command(tmp_path: Path):
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            str(repo / "spark-submit.sh"),
            "--dry-run",
            "--master",
            "spark://127.0.0.1:7077",
            "--lake",
            str(tmp_path),
            "jobs/exams/grade.py",
            "--date",
            "2026-11-20",
        ],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    command = result.stdout.strip()
    assert "--master spark://127.0.0.1:7077" in command
    assert "--py-files " + str(repo / ".build" / "lakejobs.zip") in command
    assert "delta-spark_" in command
    assert "--conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in command
    assert command.endswith(
        f"jobs/exams/grade.py --lake file:{tmp_path} --profile local --date 2026-11-20"
    )


def test_spark_submit_rejects_a_missing_job_file():
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [str(repo / "spark-submit.sh"), "--dry-run", "jobs/nope.py"],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "spark-submit.sh: error: job file not found: jobs/nope.py"


def test_backfill_rejects_a_range_that_ends_before_it_starts(capsys):
    assert main(["backfill", "exams", "--from", "2026-11-21", "--to", "2026-11-20"]) == 2
    assert (
        capsys.readouterr().err == "lakejobs: error: --to 2026-11-20 is before --from 2026-11-21\n"
    )


def test_graph_is_drawn_from_declared_inputs_and_outputs(capsys):
    assert main(["graph", "exams", "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart LR\n")
    assert "ds_raw_exam_scores[(raw.exam_scores)] --> job_exams_ingest_scores" in out
    assert "job_exams_grade --> ds_exams_grades[(exams.grades)]" in out


def test_help_lists_maintain_and_the_backfill_delivery_options():
    assert "maintain" in run_cli("--help").stdout
    backfill = run_cli("backfill", "--help").stdout
    assert "--only-delivered" in backfill and "--all-dates" in backfill


def test_backfill_delivery_options_exclude_each_other(capsys):
    args = ["backfill", "exams", "--from", "2026-11-20", "--to", "2026-11-21"]
    assert main([*args, "--only-delivered", "--all-dates"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_summary_table_keeps_brackets_and_long_lines_whole():
    from lakejobs.cli import format_table

    rows = [
        ("2026-11-20", "exams.ingest_scores", "succeeded", "12.5", "1,000", "[exams.scores v1]")
    ]
    text = format_table(("date", "job", "status", "s", "in", "versions written"), rows)
    header, rule, line = text.splitlines()
    assert line.endswith("[exams.scores v1]")
    assert header.index("in") + len("in") == line.index("1,000") + len("1,000")  # right-aligned
    assert set(rule) == {"-", " "}


def test_summary_rows_cover_runs_up_to_date_and_skipped_jobs():
    from datetime import date

    from lakejobs.cli import SUMMARY_HEADERS, summary_rows
    from lakejobs.commits import Commit
    from lakejobs.job import JobOutcome, RowCounts
    from lakejobs.pipeline import PipelineResult
    from lakejobs.runlog import RunRecord

    day = date(2026, 11, 20)
    ok = RunRecord("r1", "exams.ingest_scores", day, {}, status="succeeded")
    ok.outcome = JobOutcome(RowCounts(10, 8, 1, 1), (Commit("exams.scores", 3, "MERGE", {}),))
    failed = RunRecord("r2", "exams.grade", day, {}, status="failed", error="boom")
    result = PipelineResult((ok, failed), skipped=("exams.report",), up_to_date=("ads.fx",))
    rows = summary_rows(day, result)
    assert all(len(row) == len(SUMMARY_HEADERS) for row in rows)
    assert rows[0][1:3] == ("exams.ingest_scores", "succeeded")
    assert rows[0][4:] == ("10", "8", "1", "1", "exams.scores v3", "")
    assert (rows[1][2], rows[1][-1]) == ("failed", "boom")
    assert [r[1:3] for r in rows[2:]] == [("ads.fx", "up to date"), ("exams.report", "skipped")]


def test_backfill_leaves_out_jobs_without_deliveries_and_what_depends_on_them():
    from lakejobs.cli import delivered_jobs
    from lakejobs.pipeline import select_jobs

    nightly = select_jobs("nightly")
    kept, left_out = delivered_jobs(nightly, {"raw.exam_scores"})
    assert {j.name for j in kept} == {"exams.ingest_scores", "exams.grade"}
    assert "ads.campaign_roas" in {j.name for j in left_out}  # downstream of undelivered ads
    # One of two raw inputs is enough for a job (it decides what a partial delivery means).
    kept, _ = delivered_jobs(select_jobs("ads"), {"raw.facebook_spend", "raw.fx_rates"})
    assert {j.name for j in kept} >= {"ads.ingest_fx", "ads.ingest_spend", "ads.creative_ab_test"}
    assert delivered_jobs(select_jobs("exams.grade"), set())[1] == []  # no raw inputs: always runs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["report", "exams", "--out", "r.html"],
            "lakejobs: error: report needs --exam-id and --out (or --list to see the exam ids)",
        ),
        (["sql", "  "], "lakejobs: error: the query is empty"),
        (
            ["quarantine", "exams.scores", "--date", "2026-02-30"],
            "lakejobs: error: invalid --date '2026-02-30': expected a date as YYYY-MM-DD",
        ),
        (
            ["sql", "SELECT 1", "--lake", "/nonexistent/lake"],
            "lakejobs: error: lake not found: /nonexistent/lake",
        ),
        (["jobs", "--format", "xml"], "lakejobs: error: argument --format: invalid choice: 'xml'"),
    ],
)
def test_analyst_commands_reject_bad_input_in_one_line(args: list[str], message: str, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1


def test_help_lists_the_analyst_commands():
    result = run_cli("--help")
    for command in ("jobs", "quarantine", "sql", "shell", "report"):
        assert command in result.stdout


def test_query_sessions_keep_off_the_lakes_derby_metastore(tmp_path: Path):
    from lakejobs.config import Settings
    from lakejobs.session import spark_conf
    from lakejobs.shell import query_settings

    derby = Settings(profile="local", lake=str(tmp_path), master="local[1]")
    conf = spark_conf(query_settings(derby))
    assert conf["spark.sql.catalogImplementation"] == "in-memory"
    assert str(tmp_path / "_metastore") not in conf["spark.driver.extraJavaOptions"]
    assert conf["spark.ui.enabled"] == "false"
    hive = Settings(profile="x", lake=str(tmp_path), master="local[1]", metastore="hive")
    assert spark_conf(query_settings(hive))["spark.sql.catalogImplementation"] == "hive"


def test_query_rows_print_as_csv_json_or_a_table():
    import json

    from lakejobs.shell import format_rows

    columns, rows = ["subject", "n", "mean"], [("math", 2, 1.5), ("korean", None, None)]
    assert format_rows(columns, rows, "csv") == "subject,n,mean\nmath,2,1.5\nkorean,,\n"
    assert json.loads(format_rows(columns, rows, "json")) == [
        {"subject": "math", "n": 2, "mean": 1.5},
        {"subject": "korean", "n": None, "mean": None},
    ]
    table = format_rows(columns, rows, "table", truncated=True)
    assert ["math", "2", "1.5"] in [line.split() for line in table.splitlines()]
    assert table.endswith("(first 2 rows shown)\n")


def test_a_job_file_takes_its_entry_point_from_lakejobs_entry_not_the_cli():
    """A job file run directly: bad arguments are one line and exit 2, before any JVM, and the
    job depends on `lakejobs.entry` (the CLI module defines no job entry point)."""
    import lakejobs.cli

    repo = Path(__file__).resolve().parents[2]
    job = repo / "jobs" / "exams" / "ingest_scores.py"
    assert "from lakejobs.entry import job_main" in job.read_text(encoding="utf-8")
    assert not hasattr(lakejobs.cli, "job_main")
    result = subprocess.run(
        [sys.executable, str(job), "--date", "2026-13-01"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "lakejobs: error: invalid --date '2026-13-01': expected a date as YYYY-MM-DD\n"
    )
