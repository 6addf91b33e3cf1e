"""lakejobs: PySpark jobs that turn a raw data lake into validated, curated Delta tables.

What a job author needs is here (`__all__`); each name loads its module on first use, so
`import lakejobs` stays cheap for the CLI (no pyspark until a job is built).
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lakejobs.errors import DataQualityError
    from lakejobs.ingest import ingest_batch, quarantine, raw_ingest
    from lakejobs.inputs import Inputs
    from lakejobs.job import Job, Param, Produced, RunContext
    from lakejobs.outputs import Slices, append, insert_new, merge, replace_slices

__all__ = [
    "DataQualityError",
    "Inputs",
    "Job",
    "Param",
    "Produced",
    "RunContext",
    "Slices",
    "append",
    "ingest_batch",
    "insert_new",
    "merge",
    "quarantine",
    "raw_ingest",
    "replace_slices",
]
_HOMES = MappingProxyType(
    {
        "DataQualityError": "lakejobs.errors",
        "Inputs": "lakejobs.inputs",
        "Job": "lakejobs.job",
        "Param": "lakejobs.job",
        "Produced": "lakejobs.job",
        "RunContext": "lakejobs.job",
        "Slices": "lakejobs.outputs",
        "append": "lakejobs.outputs",
        "ingest_batch": "lakejobs.ingest",
        "insert_new": "lakejobs.outputs",
        "merge": "lakejobs.outputs",
        "quarantine": "lakejobs.ingest",
        "raw_ingest": "lakejobs.ingest",
        "replace_slices": "lakejobs.outputs",
    }
)


def __getattr__(name: str) -> Any:
    """Load a public name from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lakejobs' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
