"""The job graph as text people and tools read: Mermaid, Graphviz dot, JSON, or a PNG picture.

Nodes are datasets (raw sources and curated tables) and jobs; edges follow the declared inputs
and outputs, so the picture is derived from the code and cannot drift from it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from lakejobs.errors import UsageError
from lakejobs.job import Job


def _job_id(name: str) -> str:
    """Jobs and tables live in one id space; a prefix keeps `ads.creative_ab_test` the job apart
    from `ads.creative_ab_test` the table it writes."""
    return "job_" + name.replace(".", "_")


def _dataset_id(name: str) -> str:
    return "ds_" + name.replace(".", "_")


def ordered(jobs: Iterable[Job]) -> list[Job]:
    """Jobs sorted so that every job comes after the jobs producing its inputs: the one order
    runs and drawings share.

    Among jobs ready at the same time, names decide (`static_order` follows set order, which
    changes between processes with hash randomisation): the same selection, the same order.
    """
    jobs = list(jobs)
    producers = {output: job.name for job in jobs for output in job.outputs}
    graph = {
        job.name: {producers[i] for i in job.inputs if i in producers and producers[i] != job.name}
        for job in jobs
    }
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise UsageError(f"job graph has a cycle: {' -> '.join(exc.args[1])}") from None
    order: list[str] = []
    ready = sorted(sorter.get_ready())
    while ready:
        name = ready.pop(0)
        order.append(name)
        sorter.done(name)
        ready = sorted((*ready, *sorter.get_ready()))
    by_name = {job.name: job for job in jobs}
    return [by_name[name] for name in order]


def to_mermaid(jobs: Iterable[Job]) -> str:
    lines = ["flowchart LR"]
    for job in ordered(jobs):
        job_id = _job_id(job.name)
        lines.append(f"    {job_id}[[{job.name}]]")
        for dataset in sorted(job.inputs):
            lines.append(f"    {_dataset_id(dataset)}[({dataset})] --> {job_id}")
        for dataset in sorted(job.outputs):
            lines.append(f"    {job_id} --> {_dataset_id(dataset)}[({dataset})]")
    return "\n".join(lines) + "\n"


def to_dot(jobs: Iterable[Job]) -> str:
    lines = ["digraph lakejobs {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    jobs = ordered(jobs)
    datasets = sorted({d for job in jobs for d in (*job.inputs, *job.outputs)})
    for dataset in datasets:
        color = "lightyellow" if dataset.startswith("raw.") else "lightblue"
        lines.append(
            f'  {_dataset_id(dataset)} [label="{dataset}", shape=cylinder, style=filled, '
            f"fillcolor={color}];"
        )
    for job in jobs:
        job_id = _job_id(job.name)
        lines.append(
            f'  {job_id} [label="{job.name}", shape=box, style="rounded,filled", fillcolor=white];'
        )
        lines += [f"  {_dataset_id(d)} -> {job_id};" for d in sorted(job.inputs)]
        lines += [f"  {job_id} -> {_dataset_id(d)};" for d in sorted(job.outputs)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def job_file(job: Job) -> str:
    """The job's file relative to the project root (what spark-submit.sh runs)."""
    if not job.module:
        raise UsageError(f"{job.name}: not found by the registry, so its file is unknown")
    return job.module.replace(".", "/") + ".py"


def to_json(jobs: Iterable[Job]) -> str:
    """Each job with its file, inputs, outputs and the jobs it must run after (schedulers read
    this: the example Airflow DAG in dags/ is built from it)."""
    jobs = list(jobs)
    producers = {output: job.name for job in jobs for output in job.outputs}
    return (
        json.dumps(
            {
                job.name: {
                    "file": job_file(job),
                    "inputs": list(job.inputs),
                    "outputs": list(job.outputs),
                    "after": sorted({producers[i] for i in job.inputs if i in producers}),
                }
                for job in jobs
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )


def render_png(jobs: Iterable[Job], out: Path) -> Path:
    """Draw the graph with Graphviz's `dot` (apt-get install graphviz)."""
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError("--format png needs Graphviz's `dot` (apt-get install graphviz)")
    subprocess.run([dot, "-Tpng", "-o", str(out)], input=to_dot(jobs), text=True, check=True)
    return out
