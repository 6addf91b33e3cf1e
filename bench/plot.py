"""Draw the recorded RESULT lines as one PNG: seconds against rows, per engine, log-log.

    .venv/bin/python bench/plot.py                       # bench/results.txt -> bench/results.png

The benchmarks append their RESULT line to a file with `--record FILE`; bench/results.txt holds
the lines behind the tables in bench/README.md. For each (benchmark, rows) the last line wins,
so a re-measured size replaces the older figure. A run that did not finish (failed, timeout) is
drawn as a cross at the top of its panel, so a missing point is never mistaken for a fast one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from matplotlib.figure import Figure

BENCH_DIR = Path(__file__).resolve().parent
ENGINES = {
    "grading": ("lakejobs", "duckdb", "duckdb_hist", "naive_spark", "mariadb"),
    "groupby": ("lakejobs", "duckdb"),
    "ingest": ("lakejobs", "duckdb", "spark_floor"),
    "pipeline": ("lakejobs", "duckdb"),
}
UNFINISHED = ("failed", "timeout")

# kind -> rows -> engine -> seconds, or the word of a run that did not finish
Results = dict[str, dict[int, dict[str, float | str]]]


def parse_results(lines: Iterable[str]) -> Results:
    """RESULT lines (other lines are ignored) as figures per benchmark, size and engine."""
    results: Results = {}
    for line in lines:
        words = line.split()
        if len(words) < 3 or words[0] != "RESULT" or words[1] not in ENGINES:
            continue
        fields = dict(word.split("=", 1) for word in words[2:] if "=" in word)
        figures: dict[str, float | str] = {}
        for engine in ENGINES[words[1]]:
            value = fields.get(f"{engine}_s")
            if value is None or value == "skipped":
                continue
            figures[engine] = value if value in UNFINISHED else float(value)
        results.setdefault(words[1], {})[int(fields["rows"])] = figures
    return results


def draw(results: Results) -> Figure:
    """One panel per benchmark: wall seconds (log) against rows (log), one line per engine."""
    kinds = [kind for kind in ENGINES if kind in results]
    figure = Figure(figsize=(6 * max(1, len(kinds)), 4.5), layout="constrained")
    panels = figure.subplots(1, max(1, len(kinds)), squeeze=False)[0]
    for axes, kind in zip(panels, kinds, strict=False):
        by_rows = results[kind]
        top = max(
            (v for f in by_rows.values() for v in f.values() if isinstance(v, float)), default=1
        )
        for engine in ENGINES[kind]:
            points = sorted((rows, f[engine]) for rows, f in by_rows.items() if engine in f)
            done = [(rows, v) for rows, v in points if isinstance(v, float)]
            if done:
                rows, seconds = zip(*done, strict=True)
                axes.plot(rows, seconds, marker="o", label=engine)
            for rows, word in ((r, v) for r, v in points if not isinstance(v, float)):
                axes.plot([rows], [top * 1.5], marker="x", color="black", linestyle="none")
                axes.annotate(
                    f"{engine}: {word}",
                    (rows, top * 1.5),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=8,
                )
        axes.set(xscale="log", yscale="log", xlabel="rows", ylabel="seconds (wall, 2 cores)")
        axes.set_title(f"{kind}: lower is better")
        axes.grid(True, which="major", alpha=0.3)
        axes.legend()
    return figure


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--results",
        type=Path,
        default=BENCH_DIR / "results.txt",
        help="file of RESULT lines (default bench/results.txt)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "results.png",
        help="PNG to write (default bench/results.png)",
    )
    args = parser.parse_args(argv)
    if not args.results.is_file():
        print(
            f"no results file at {args.results}: run a benchmark with --record first",
            file=sys.stderr,
        )
        return 2
    results = parse_results(args.results.read_text(encoding="utf-8").splitlines())
    if not results:
        print(f"{args.results} holds no RESULT lines", file=sys.stderr)
        return 2
    draw(results).savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
