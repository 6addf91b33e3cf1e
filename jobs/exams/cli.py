"""The exams domain's part of the `lakejobs` command: `lakejobs report exams` and the demo.

The CLI imports this module to build its parser (also for --help), so the drawing and Spark
code are imported only when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lakejobs.domains import CommandKit, Demo
from lakejobs.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakejobs.config import Settings
    from lakejobs.pipeline import PipelineResult


def add_commands(kit: CommandKit) -> None:
    """`lakejobs report exams`: one exam's cut-offs and grade distribution as PNG or HTML."""
    report = kit.subparsers.add_parser(
        "report",
        help="draw an exam's grade cut-offs and grade distribution (PNG, or HTML with the table)",
        description="Render one exam's cut-off table and grade distribution per subject from "
        "exams.grade_cutoffs, with the students per grade beside the scheme's target share and "
        "the table version and run they come from. The file name picks the format: .png is the "
        "picture; .html is a page to share (tables and the picture). --list shows the exam ids.",
    )
    report.add_argument("domain", choices=["exams"], help="what to report on")
    report.add_argument("--exam-id", help="exam to show, e.g. 2026-11-CSAT")
    report.add_argument("--out", help="output file: report.png or report.html")
    report.add_argument("--list", action="store_true", help="list the exams that can be shown")
    kit.add_common(report)
    report.set_defaults(handler=lambda args: _report(args, kit))


def _report(args: argparse.Namespace, kit: CommandKit) -> int:
    from jobs.exams import plots

    if not args.list and not (args.exam_id and args.out):
        raise UsageError("report needs --exam-id and --out (or --list to see the exam ids)")
    out = Path(args.out) if args.out else None
    if out is not None:
        plots.report_format(out)  # a bad file name fails before any reading
    settings = kit.settings(args)
    kit.require_local_lake(settings)
    spark = None if settings.lake_is_local else kit.session(args, settings)  # local: no JVM
    cutoffs, provenance = plots.read_cutoffs(settings, spark)
    if args.list:
        plots.print_exam_list(cutoffs, provenance)
        return 0
    report = plots.exam_report(cutoffs, args.exam_id, provenance)
    assert out is not None  # without --list, --out was required above
    print(f"wrote {plots.write_report(report, out)}")
    return 0


def _summary(spark: SparkSession, settings: Settings, result: PipelineResult) -> None:
    from jobs.exams.demo import print_summary

    print_summary(spark, settings, result)


def _next_commands(run_date: str, lake_argument: str) -> tuple[str, ...]:
    return (
        f"quarantine exams.scores --date {run_date}{lake_argument}",
        'sql "SELECT subject, grade, count(*) AS n FROM exams.grades GROUP BY 1, 2 ORDER BY 1, 2"'
        f"{lake_argument}",
    )


DEMO = Demo(domain="exams", summary=_summary, next_commands=_next_commands)
