"""`lakejobs report exams`: one exam's grade cut-offs and grade distribution as PNG or HTML.

Reading (Spark, small aggregates only) is apart from drawing (pandas + matplotlib, pure: data
in, figure or text out), so the drawing is testable without a lake. Figures use matplotlib's
object API (`Figure`), never pyplot's global state, so no display or backend set-up is needed.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakejobs.errors import LakejobsError, UsageError
from lakejobs.lake import LakeLayout

REPORT_FORMATS = (".png", ".html")
KNOWN_IDS_SHOWN = 5


@dataclass(frozen=True)
class ExamReport:
    """What the report shows: cut-offs (subject, grade, min_score, count, share) and the
    number of students per (subject, grade), for one exam."""

    exam_id: str
    scheme: str
    cutoffs: pd.DataFrame
    distribution: pd.DataFrame


def report_format(out: Path) -> str:
    """The output kind from the file name; anything else is a one-line usage error."""
    suffix = out.suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise UsageError(f"--out {out}: expected a .png or .html file name")
    return suffix.removeprefix(".")


def _delta(spark: SparkSession, lake: str, table: str):
    location = LakeLayout(lake).curated_dir("exams", table)
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, location):
        raise LakejobsError(
            f"exams.{table} not found at {location}: run `lakejobs run exams` on this lake first"
        )
    return spark.read.format("delta").load(location)


def load_exam_report(spark: SparkSession, lake: str, exam_id: str) -> ExamReport:
    """Read one exam's cut-offs and grade counts; an unknown exam id names a few known ones."""
    cutoffs = _delta(spark, lake, "grade_cutoffs")
    mine = cutoffs.where(F.col("exam_id") == exam_id)
    picked = mine.select("subject", "scheme", "grade", "min_score", "count", "share").toPandas()
    if picked.empty:
        known = [
            r["exam_id"]
            for r in cutoffs.select("exam_id")
            .distinct()
            .orderBy("exam_id")
            .limit(KNOWN_IDS_SHOWN + 1)
            .collect()
        ]
        shown = ", ".join(known[:KNOWN_IDS_SHOWN]) + (", …" if len(known) > KNOWN_IDS_SHOWN else "")
        raise UsageError(f"unknown exam id {exam_id!r} (known: {shown or 'none'})")
    distribution = (
        _delta(spark, lake, "grades")
        .where(F.col("exam_id") == exam_id)
        .groupBy("subject", "grade")
        .count()
        .toPandas()
    )
    return ExamReport(
        exam_id=exam_id,
        scheme=str(picked["scheme"].iloc[0]),
        cutoffs=picked.drop(columns="scheme"),
        distribution=distribution,
    )


def cutoff_table(cutoffs: pd.DataFrame) -> pd.DataFrame:
    """Pure: lowest score reaching each grade, one row per subject, one column per grade."""
    table = cutoffs.pivot(index="subject", columns="grade", values="min_score").sort_index()
    table.columns = [f"grade {g}" for g in table.columns]
    table.columns.name = None
    return table


def grade_shares(distribution: pd.DataFrame) -> pd.DataFrame:
    """Pure: share (%) of each subject's students per grade; subjects as columns."""
    counts = distribution.pivot(index="grade", columns="subject", values="count").fillna(0)
    return (100.0 * counts / counts.sum()).sort_index()


def render_figure(report: ExamReport) -> Figure:
    """Pure: grade distribution per subject (bars) beside the cut-off table (heat map)."""
    shares = grade_shares(report.distribution)
    cuts = cutoff_table(report.cutoffs)
    fig = Figure(figsize=(13, 5), layout="constrained")
    bars, heat = fig.subplots(1, 2, width_ratios=[1.1, 1])
    width = 0.8 / max(1, len(shares.columns))
    for i, subject in enumerate(shares.columns):
        bars.bar(shares.index + (i - (len(shares.columns) - 1) / 2) * width, shares[subject],
                 width=width, label=subject)  # fmt: skip
    bars.set(
        xlabel="grade (1 = best)",
        ylabel="share of students (%)",
        title="Grade distribution per subject",
        xticks=list(shares.index),
    )
    bars.legend(fontsize="small", ncols=2)
    image = heat.imshow(cuts.to_numpy(dtype=float), aspect="auto", cmap="viridis")
    heat.set_xticks(range(len(cuts.columns)), [c.removeprefix("grade ") for c in cuts.columns])
    heat.set_yticks(range(len(cuts.index)), list(cuts.index))
    heat.set(xlabel="grade", title="Cut-off: lowest score reaching the grade")
    for (row, col), value in pd.DataFrame(cuts.to_numpy()).stack().items():
        ink = "black" if image.norm(value) > 0.6 else "white"  # readable on light and dark cells
        heat.text(col, row, f"{value:g}", ha="center", va="center", color=ink, fontsize=8)
    fig.colorbar(image, ax=heat, label="score")
    fig.suptitle(f"Exam {report.exam_id} ({report.scheme})")
    return fig


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def render_html(report: ExamReport, png: bytes) -> str:
    """Pure: a standalone HTML page with the plot embedded (base64) and the cut-off table."""
    title = html.escape(f"Exam {report.exam_id}: grade cut-offs and distribution")
    table = cutoff_table(report.cutoffs).to_html(
        classes="cutoffs", float_format=lambda v: f"{v:g}", na_rep="", border=0
    )
    image = base64.b64encode(png).decode("ascii")
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table.cutoffs{border-collapse:collapse}"
        "table.cutoffs td,table.cutoffs th{padding:.2em .6em;border-bottom:1px solid #ddd;"
        "text-align:right}</style></head><body>\n"
        f"<h1>{title}</h1>\n<p>Scheme {html.escape(report.scheme)}; grades are relative within "
        "each subject (1 = best).</p>\n"
        f"<img alt='grade distribution and cut-offs' src='data:image/png;base64,{image}'>\n"
        f"<h2>Lowest score reaching each grade</h2>\n{table}\n</body></html>\n"
    )


def write_report(report: ExamReport, out: Path) -> Path:
    """Write the report as PNG or HTML (chosen by the file name); return the path."""
    kind = report_format(out)
    png = figure_png(render_figure(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "png":
        out.write_bytes(png)
    else:
        out.write_text(render_html(report, png), encoding="utf-8")
    return out
