"""Where a run's time went, from Spark's event log: task time, CPU, GC and spill per Spark job.

    .venv/bin/python bench/eventlog.py bench/data/eventlog/<app-id>   # a grading bench run

The benchmarks keep the event log of every run (`<data-dir>/eventlog/`). Jobs are grouped by
their description (lakejobs names each write `<job> <date>: write <table>`) and call site, so the
table says which output a job wrote and how much of the run it cost. `--since`/`--until` (epoch
seconds) restrict it to the tasks that finished in a window; `task_spill` gives the benchmarks'
spill column from the same reading.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchkit import format_table
from pyspark.sql import SparkSession


@dataclass
class JobCost:
    """Summed task metrics of one group of Spark jobs."""

    jobs: set[int] = field(default_factory=set)
    tasks: int = 0
    run_s: float = 0.0
    cpu_s: float = 0.0
    gc_s: float = 0.0
    memory_spilled: int = 0
    disk_spilled: int = 0


def log_files(path: Path) -> list[Path]:
    """The event log files of `path`: a plain log file, or a rolling log's folder of parts."""
    if path.is_dir():
        return sorted(path.glob("events_*"), key=lambda p: int(p.name.split("_")[1]))
    return [path]


def events(path: Path) -> Iterator[dict]:
    for part in log_files(path):
        with part.open(encoding="utf-8") as lines:
            for line in lines:
                if '"SparkListenerJobStart"' in line or '"SparkListenerTaskEnd"' in line:
                    yield json.loads(line)


def job_costs(
    log: Iterable[dict], since: float = 0.0, until: float = float("inf")
) -> dict[str, JobCost]:
    """Task metrics summed per job description and call site, for tasks finished in the window."""
    group_of_stage: dict[int, str] = {}
    costs: dict[str, JobCost] = {}
    for event in log:
        if event["Event"] == "SparkListenerJobStart":
            properties = event.get("Properties") or {}
            description = properties.get("spark.job.description") or "(no description)"
            group = f"{description} | {properties.get('callSite.short', '?')}"
            for stage in event["Stage IDs"]:
                group_of_stage[stage] = group
            costs.setdefault(group, JobCost()).jobs.add(event["Job ID"])
            continue
        finished = event["Task Info"]["Finish Time"] / 1000
        metrics = event.get("Task Metrics")
        if not metrics or not since <= finished <= until:
            continue
        cost = costs.setdefault(group_of_stage.get(event["Stage ID"], "(unknown)"), JobCost())
        cost.tasks += 1
        cost.run_s += metrics["Executor Run Time"] / 1e3
        cost.cpu_s += metrics["Executor CPU Time"] / 1e9
        cost.gc_s += metrics["JVM GC Time"] / 1e3
        cost.memory_spilled += metrics["Memory Bytes Spilled"]
        cost.disk_spilled += metrics["Disk Bytes Spilled"]
    return {group: cost for group, cost in costs.items() if cost.tasks}


def total(costs: Iterable[JobCost]) -> JobCost:
    """All the given costs summed into one."""
    summed = JobCost()
    for cost in costs:
        summed.jobs |= cost.jobs
        summed.tasks += cost.tasks
        summed.run_s += cost.run_s
        summed.cpu_s += cost.cpu_s
        summed.gc_s += cost.gc_s
        summed.memory_spilled += cost.memory_spilled
        summed.disk_spilled += cost.disk_spilled
    return summed


@dataclass(frozen=True)
class Spill:
    """Bytes spilled by Spark tasks: as held in memory before the spill, and as written to disk."""

    memory_bytes: int = 0
    disk_bytes: int = 0

    def __str__(self) -> str:
        if not self.disk_bytes:
            return "none"
        return f"{self.disk_bytes / 1e9:.2f} GB ({self.memory_bytes / 1e9:.2f} GB in memory)"


def app_log(event_log_dir: Path, app_id: str) -> Path | None:
    """The event log of application `app_id` in `event_log_dir` (a file, or a rolling folder)."""
    found = sorted(event_log_dir.glob(f"*{app_id}*"))
    return found[0] if found else None


def task_spill(spark: SparkSession, event_log_dir: Path, since: float, until: float) -> Spill:
    """Spill of the session's tasks that finished between `since` and `until` (epoch seconds).
    Spark flushes its event log at every stage end, so a finished run is all in it."""
    log = app_log(event_log_dir, spark.sparkContext.applicationId)
    summed = total(job_costs(events(log), since, until).values() if log else ())
    return Spill(summed.memory_spilled, summed.disk_spilled)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path, help="an event log file or a rolling log's folder")
    parser.add_argument("--since", type=float, default=0.0, help="epoch seconds (default: all)")
    parser.add_argument("--until", type=float, default=float("inf"), help="epoch seconds")
    parser.add_argument("--top", type=int, default=15, help="groups shown (default 15)")
    args = parser.parse_args(argv)
    if not args.log.exists():
        print(f"no event log at {args.log}", file=sys.stderr)
        return 2
    costs = job_costs(events(args.log), args.since, args.until)
    ranked = sorted(costs.items(), key=lambda item: -item[1].run_s)
    everything = total(costs.values())
    rows = [
        [group[:90], len(c.jobs), c.tasks, c.run_s, c.cpu_s, c.gc_s, c.disk_spilled / 1e9]
        for group, c in ranked[: args.top]
    ]
    rows.append(
        [
            "all",
            len(everything.jobs),
            everything.tasks,
            everything.run_s,
            everything.cpu_s,
            everything.gc_s,
            everything.disk_spilled / 1e9,
        ]
    )
    header = [
        "jobs (description | call site)",
        "jobs",
        "tasks",
        "task s",
        "cpu s",
        "gc s",
        "spill GB",
    ]
    print(format_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
