"""Shared plumbing of the benchmarks: the bench Spark session, timers, peak RSS, result tables.

The benchmarks must measure what users get, so the session is always the library's own
(`lakejobs.session.build_session` with the `local` profile); only the master is pinned to
`local[2]` and the console progress bar is turned off so that logs stay readable.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from lakejobs.config import Settings, load_settings
from lakejobs.session import build_session

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = BENCH_DIR / "data"
MASTER = "local[2]"
PAGE = os.sysconf("SC_PAGE_SIZE")


def bench_settings(
    lake: Path, event_log: Path | None = None, overrides: Iterable[tuple[str, str]] = ()
) -> Settings:
    """The `local` profile on a bench lake, with master local[2] (the 2-core target machine).

    With `event_log`, Spark writes its event log there: where the profile of a run comes from
    (bench/eventlog.py), and the spill figures. `overrides` (a bench's --conf) come last."""
    settings = load_settings(profile="local", lake=str(lake), master=MASTER)
    conf = {**settings.spark_conf, "spark.ui.showConsoleProgress": "false"}
    if event_log is not None:
        event_log.mkdir(parents=True, exist_ok=True)
        conf |= {
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": event_log.as_uri(),
            "spark.eventLog.compress": "false",
        }
    conf |= dict(overrides)
    return dataclasses.replace(settings, spark_conf=conf)


def start_spark(settings: Settings, app_name: str) -> SparkSession:
    """The library's session; the JVM start happens here, outside every timed section."""
    # Python workers (the naive baseline's UDF) must run this interpreter, not whatever
    # `python3` is first on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return build_session(settings, app_name=app_name)


def positive_rows(text: str) -> int:
    """Row counts as 10000, 1e6 or 1_000_000 (scientific notation reads best for benchmarks)."""
    value = float(text.replace("_", ""))
    if value < 1 or value != int(value):
        raise ValueError(f"rows must be a positive integer, got {text!r}")
    return int(value)


def rows_label(rows: int) -> str:
    """1e6 for powers of ten, the plain number otherwise."""
    text = f"{rows:.0e}".replace("e+0", "e").replace("e+", "e")
    return text if float(text) == rows else str(rows)


def machine_note(load_at_start: float) -> str:
    """Cores and the 1-minute load average at the start and now: timings on a shared machine
    mean little without it."""
    return (
        f"{os.cpu_count()} cores, load average {load_at_start:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end"
    )


class Stopwatch:
    """Named wall-clock timings in insertion order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - started


def jvm_pid(spark: SparkSession) -> int:
    """Pid of the process py4j launched for the JVM (`spark-submit` execs into `java`)."""
    return int(spark.sparkContext._gateway.proc.pid)


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as stat:
                # The command name may contain spaces and parentheses: split after its last ')'.
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(roots: Iterable[int]) -> set[int]:
    """The given pids and all their descendants (Spark's Python workers are children of the JVM)."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def rss_bytes(pids: Iterable[int]) -> int:
    """Current resident set size summed over `pids` (from /proc/<pid>/statm; gone pids count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except (OSError, IndexError):
            continue
    return total


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds consumed so far by `pids` (from /proc/<pid>/stat).

    On a shared machine wall time swings with the load; CPU time of the engine's own processes
    is the steadier figure for comparing two versions of the same code."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class PeakRss:
    """Samples the summed RSS of processes (and by default their descendants) every `interval`
    seconds in a background thread.

    The peak of the sum is what matters for "does it fit in RAM"; the kernel's per-process
    high-water marks (VmHWM) cannot give it, since the processes peak at different moments.
    """

    def __init__(
        self, roots: Callable[[], Sequence[int]], descendants: bool = True, interval: float = 0.2
    ) -> None:
        self._roots = roots
        self._descendants = descendants
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = 0

    def _sample(self) -> None:
        roots = self._roots()
        pids = process_tree(roots) if self._descendants else roots
        self.peak = max(self.peak, rss_bytes(pids))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> PeakRss:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def gb(self) -> float:
        return self.peak / 1e9


def add_record_option(parser: argparse.ArgumentParser) -> None:
    """`--record FILE`: where a successful run appends its RESULT line (bench/plot.py draws them)."""
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="append the RESULT line to FILE, e.g. bench/results.txt (drawn by bench/plot.py)",
    )


def print_result(line: str, record: Path | None) -> None:
    """Print the closing RESULT line and, with `--record`, append it to that file."""
    print(line, flush=True)
    if record is not None:
        with record.open("a", encoding="utf-8") as results:
            results.write(line + "\n")


def format_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain fixed-width text table (numbers right-aligned) for logs and the README."""
    values = [list(row) for row in rows]
    cells = [[_cell(v) for v in row] for row in values]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row, raw in zip(cells, values, strict=True):
        aligned = (
            cell.rjust(w) if isinstance(value, int | float) else cell.ljust(w)
            for cell, w, value in zip(row, widths, raw, strict=True)
        )
        lines.append("  ".join(aligned).rstrip())
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
