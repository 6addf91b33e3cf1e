"""`lakejobs report exams`: one exam's grade cut-offs and grade distribution as PNG or HTML.

Reading is apart from drawing (pandas + matplotlib, pure: data in, figure or text out), so the
drawing is testable without a lake. Everything comes from `exams.grade_cutoffs` (a few rows per
exam: lowest score, count and share per subject and grade), read with delta-rs on a local lake
(no JVM) and with Spark elsewhere; the run log says which run wrote the version shown. Figures
use matplotlib's object API (`Figure`), never pyplot's global state, so no display is needed.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from lakejobs.config import Settings
from lakejobs.errors import LakejobsError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CUTOFFS_TABLE = "exams.grade_cutoffs"
CUTOFF_COLUMNS = ["exam_id", "subject", "scheme", "grade", "min_score", "count", "share"]

REPORT_FORMATS = (".png", ".html")
KNOWN_IDS_SHOWN = 5


@dataclass(frozen=True)
class Provenance:
    """Which data the report shows: the table version, when it was committed, which run wrote it."""

    table: str
    version: int
    committed_at: datetime | None = None
    run_id: str | None = None
    run_date: date | None = None

    def describe(self) -> str:
        text = f"{self.table} v{self.version}"
        if self.committed_at is not None:
            text += f", committed {self.committed_at:%Y-%m-%d %H:%M} UTC"
        if self.run_id:
            text += f" by run {self.run_id}"
        if self.run_date is not None:
            text += f" (run date {self.run_date})"
        return text


@dataclass(frozen=True)
class ExamReport:
    """What the report shows: cut-offs (subject, grade, min_score, count, share) and the
    number of students per (subject, grade), for one exam; where they come from; and the
    grading scheme's target share (%) per grade, when the scheme is known."""

    exam_id: str
    scheme: str
    cutoffs: pd.DataFrame
    distribution: pd.DataFrame
    provenance: Provenance | None = None
    targets: dict[int, float] = field(default_factory=dict)

    @property
    def group_sizes(self) -> dict[str, int]:
        """Students per subject (the n each share is relative to)."""
        sizes = self.distribution.groupby("subject")["count"].sum().sort_index()
        return {str(k): int(v) for k, v in sizes.items()}


def report_format(out: Path) -> str:
    """The output kind from the file name; anything else is a one-line usage error."""
    suffix = out.suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise UsageError(f"--out {out}: expected a .png or .html file name")
    return suffix.removeprefix(".")


def target_shares(scheme: str) -> dict[int, float]:
    """Pure: the share (%) of students each grade aims at, from the scheme's cumulative
    percents (csat9: 4, 7, 12, ...); {} for a scheme no longer in schemas/."""
    from jobs.exams.grading import load_schemes

    known = load_schemes()
    if scheme not in known:
        return {}
    cumulative = [float(p) for p in known[scheme].cumulative_percent]
    steps = enumerate(pairwise([0.0, *cumulative]), start=1)
    return {grade: round(high - low, 6) for grade, (low, high) in steps}


def _local_cutoffs(settings: Settings) -> tuple[pd.DataFrame, Provenance]:
    from deltalake import DeltaTable

    path = settings.local_lake_path / "curated" / "exams" / "grade_cutoffs"
    if not (path / "_delta_log").is_dir():
        raise LakejobsError(
            f"{CUTOFFS_TABLE} not found at {path}: run `lakejobs run exams` on this lake first"
        )
    table = DeltaTable(str(path))
    version = table.version()
    committed = table.history(1)[0].get("timestamp")
    frame = table.to_pyarrow_table(columns=CUTOFF_COLUMNS).to_pandas()
    return frame, _provenance(settings, version, committed)


def _provenance(settings: Settings, version: int, committed_ms: int | None) -> Provenance:
    """The run that wrote `version` of the cut-offs, from the run log (without a JVM)."""
    from lakejobs.inspect import read_runs

    committed = datetime.fromtimestamp(committed_ms / 1000, UTC) if committed_ms else None
    for run in read_runs(settings):  # newest first
        written = dict(run.get("output_versions") or {})
        if run["status"] == "succeeded" and written.get(CUTOFFS_TABLE) == version:
            return Provenance(CUTOFFS_TABLE, version, committed, run["run_id"], run["run_date"])
    return Provenance(CUTOFFS_TABLE, version, committed)


def _spark_cutoffs(spark: SparkSession, settings: Settings) -> tuple[pd.DataFrame, Provenance]:
    from delta.tables import DeltaTable

    from lakejobs.commits import is_delta_table

    location = f"{settings.lake}/curated/exams/grade_cutoffs"
    if not is_delta_table(spark, location):
        raise LakejobsError(
            f"{CUTOFFS_TABLE} not found at {location}: run `lakejobs run exams` on this lake first"
        )
    last = DeltaTable.forPath(spark, location).history(1).first()
    if last is None:
        raise LakejobsError(f"{CUTOFFS_TABLE} at {location} has no commit in its Delta log")
    frame = spark.read.format("delta").load(location).select(*CUTOFF_COLUMNS).toPandas()
    return frame, Provenance(CUTOFFS_TABLE, int(last["version"]), last["timestamp"])


def read_cutoffs(
    settings: Settings, spark: SparkSession | None = None
) -> tuple[pd.DataFrame, Provenance]:
    """Every exam's cut-offs and where they come from: delta-rs on a local lake, else Spark."""
    if settings.lake_is_local:
        return _local_cutoffs(settings)
    if spark is None:
        raise UsageError(f"{settings.lake}: a report on a remote lake needs a SparkSession")
    return _spark_cutoffs(spark, settings)


def list_exams(cutoffs: pd.DataFrame) -> pd.DataFrame:
    """Pure: one row per exam: scheme, subjects, students (summed over subjects), sorted by id."""
    if cutoffs.empty:
        return pd.DataFrame(columns=["exam_id", "scheme", "subjects", "students"])
    return (
        cutoffs.groupby("exam_id")
        .agg(
            scheme=("scheme", "first"),
            subjects=("subject", "nunique"),
            students=("count", "sum"),
        )
        .reset_index()
        .sort_values("exam_id")
        .reset_index(drop=True)
    )


def print_exam_list(cutoffs: pd.DataFrame, provenance: Provenance) -> None:
    """`lakejobs report exams --list`: the exam ids a report can show, with their size."""
    from rich.table import Table

    from lakejobs.inspect import console

    console().print(f"Exams in {provenance.describe()}")
    table = Table()
    for column in ("exam_id", "scheme", "subjects", "students"):
        table.add_column(column, justify="left" if column in ("exam_id", "scheme") else "right")
    for row in list_exams(cutoffs).itertuples():
        table.add_row(row.exam_id, row.scheme, str(row.subjects), f"{row.students:,}")
    console().print(table)


def exam_report(cutoffs: pd.DataFrame, exam_id: str, provenance: Provenance | None) -> ExamReport:
    """Pure: the report of one exam; an unknown id names a few known ones."""
    picked = cutoffs[cutoffs["exam_id"] == exam_id]
    if picked.empty:
        known = sorted(cutoffs["exam_id"].unique())
        shown = ", ".join(known[:KNOWN_IDS_SHOWN]) + (", …" if len(known) > KNOWN_IDS_SHOWN else "")
        raise UsageError(
            f"unknown exam id {exam_id!r} (known: {shown or 'none'}; "
            "`lakejobs report exams --list` lists them all)"
        )
    scheme = str(picked["scheme"].iloc[0])
    table = picked[["subject", "grade", "min_score", "count", "share"]].reset_index(drop=True)
    return ExamReport(
        exam_id=exam_id,
        scheme=scheme,
        cutoffs=table,
        distribution=table[["subject", "grade", "count"]],
        provenance=provenance,
        targets=target_shares(scheme),
    )


def load_exam_report(
    settings: Settings, exam_id: str, spark: SparkSession | None = None
) -> ExamReport:
    """Read one exam's cut-offs and grade counts, with their provenance and target shares."""
    cutoffs, provenance = read_cutoffs(settings, spark)
    return exam_report(cutoffs, exam_id, provenance)


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
    sizes = report.group_sizes
    for i, subject in enumerate(shares.columns):
        bars.bar(shares.index + (i - (len(shares.columns) - 1) / 2) * width, shares[subject],
                 width=width, label=f"{subject} (n={sizes.get(subject, 0):,})")  # fmt: skip
    if report.targets:
        grades = sorted(report.targets)
        bars.scatter(grades, [report.targets[g] for g in grades], marker="_", s=900,
                     linewidths=2.5, color="black", zorder=3, label=f"{report.scheme} target")  # fmt: skip
    bars.set(
        xlabel="grade (1 = best)",
        ylabel="share of students (%)",
        title="Grade distribution per subject",
        xticks=sorted({*shares.index, *report.targets}),
    )
    bars.legend(fontsize="small", ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
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


def _cells(tag: str, values: list[str]) -> str:
    return "".join(f"<{tag}>{html.escape(v)}</{tag}>" for v in values)


def counts_rows(report: ExamReport) -> tuple[list[str], list[list[str]]]:
    """Pure: header and rows of the counts table: per grade, the target share and each
    subject's students and share; a last row with each subject's students (the group sizes)."""
    subjects = list(report.group_sizes)
    cell = {(r.subject, int(r.grade)): r for r in report.cutoffs.itertuples()}
    grades = sorted({int(g) for g in report.cutoffs["grade"]} | set(report.targets))
    header = ["grade", "target share", *subjects]
    rows = []
    for grade in grades:
        target = report.targets.get(grade)
        row = [str(grade), "-" if target is None else f"{target:g}%"]
        for subject in subjects:
            r = cell.get((subject, grade))
            row.append(f"{r.count:,} ({100 * r.share:.1f}%)" if r is not None else "0 (0.0%)")
        rows.append(row)
    rows.append(["students", "100%", *(f"{n:,}" for n in report.group_sizes.values())])
    return header, rows


def render_html(report: ExamReport, png: bytes) -> str:
    """Pure: a standalone page to share: students and shares per grade beside the scheme's
    target, the lowest score reaching each grade, the figure, and where the data come from."""
    title = html.escape(f"Exam {report.exam_id}: grade cut-offs and distribution")
    header, rows = counts_rows(report)
    counts = (
        f"<table class='counts'><thead><tr>{_cells('th', header)}</tr></thead><tbody>"
        + "".join(f"<tr>{_cells('td', row)}</tr>" for row in rows[:-1])
        + f"</tbody><tfoot><tr>{_cells('td', rows[-1])}</tr></tfoot></table>"
    )
    cuts = cutoff_table(report.cutoffs)
    cut_header = ["subject", *cuts.columns]
    cut_rows = [
        [str(subject), *("-" if pd.isna(v) else f"{v:g}" for v in values)]
        for subject, values in cuts.iterrows()
    ]
    cutoffs = (
        f"<table class='cutoffs'><thead><tr>{_cells('th', cut_header)}</tr></thead><tbody>"
        + "".join(f"<tr>{_cells('td', row)}</tr>" for row in cut_rows)
        + "</tbody></table>"
    )
    source = html.escape(report.provenance.describe()) if report.provenance else "unknown"
    image = base64.b64encode(png).decode("ascii")
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .7em;"
        "border-bottom:1px solid #ddd;text-align:right}th{background:#f3f3f3}"
        "td:first-child,th:first-child{text-align:left}tfoot td{font-weight:bold}"
        ".counts td:nth-child(2){color:#555}img{max-width:100%}.source{color:#555}</style>"
        "</head><body>\n"
        f"<h1>{title}</h1>\n<p>Scheme {html.escape(report.scheme)}: grades are relative within "
        "each subject (1 = best); the target share is what the scheme aims each grade at "
        "(ties can move a few students to the better grade).</p>\n"
        f"<h2>Students per grade (share of the subject)</h2>\n{counts}\n"
        f"<h2>Lowest score reaching each grade</h2>\n{cutoffs}\n"
        f"<img alt='grade distribution per subject and the cut-off scores' "
        f"src='data:image/png;base64,{image}'>\n"
        f"<p class='source'>Source: {source}.</p>\n</body></html>\n"
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
