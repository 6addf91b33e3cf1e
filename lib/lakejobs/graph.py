"""The job graph as text people and tools read: Mermaid, Graphviz dot, JSON, or a PNG picture.

Nodes are datasets (raw sources and curated tables) and jobs; edges follow the declared inputs
and outputs, so the picture is derived from the code and cannot drift from it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from lakejobs.errors import UsageError
from lakejobs.job import Job

FORMATS = ("mermaid", "dot", "json", "png")


def _node(name: str) -> str:
    return name.replace(".", "_")


def to_mermaid(jobs: Iterable[Job]) -> str:
    lines = ["flowchart LR"]
    for job in jobs:
        lines.append(f"    {_node(job.name)}[[{job.name}]]")
        for dataset in job.inputs:
            lines.append(f"    {_node(dataset)}[({dataset})] --> {_node(job.name)}")
        for dataset in job.outputs:
            lines.append(f"    {_node(job.name)} --> {_node(dataset)}[({dataset})]")
    return "\n".join(lines) + "\n"


def to_dot(jobs: Iterable[Job]) -> str:
    lines = ["digraph lakejobs {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    jobs = list(jobs)
    datasets = sorted({d for job in jobs for d in (*job.inputs, *job.outputs)})
    for dataset in datasets:
        color = "lightyellow" if dataset.startswith("raw.") else "lightblue"
        lines.append(f'  "{dataset}" [shape=cylinder, style=filled, fillcolor={color}];')
    for job in jobs:
        lines.append(f'  "{job.name}" [shape=box, style="rounded,filled", fillcolor=white];')
        lines += [f'  "{d}" -> "{job.name}";' for d in job.inputs]
        lines += [f'  "{job.name}" -> "{d}";' for d in job.outputs]
    lines.append("}")
    return "\n".join(lines) + "\n"


def job_file(job: Job) -> str:
    """The job's file relative to the project root (what spark-submit.sh runs)."""
    return job.run.__module__.replace(".", "/") + ".py"


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
