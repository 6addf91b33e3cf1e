"""The Job contract, the run context a job receives, and row accounting enforced for every run.

A job declares its inputs and outputs (raw sources as `raw.<source>`, tables as `<db>.<table>`)
and a `run(ctx)` function that reads through the context, calls pure transforms and writes through
`ctx.tables`. The framework times the run, checks the row accounting and records it in
`lakejobs.job_runs`, whatever the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from pyspark.sql import DataFrame, SparkSession

from lakejobs.config import Settings
from lakejobs.contracts import TableContract, table_contract
from lakejobs.errors import AccountingError, UsageError
from lakejobs.lake import LakeLayout
from lakejobs.tables import Commit, CuratedTables

_JOB_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_DATASET = re.compile(r"^(raw|[a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class RowCounts:
    """Row accounting of one run: in = written + quarantined + duplicates dropped."""

    rows_in: int
    written: int
    quarantined: int = 0
    duplicates: int = 0

    def check(self, job: str) -> None:
        accounted = self.written + self.quarantined + self.duplicates
        if self.rows_in != accounted:
            raise AccountingError(
                f"{job}: rows in {self.rows_in:,} != written {self.written:,} + quarantined "
                f"{self.quarantined:,} + duplicates dropped {self.duplicates:,} ({accounted:,})"
            )


@dataclass(frozen=True)
class JobOutcome:
    """What a job's `run` returns: its row accounting and the Delta commits it made."""

    counts: RowCounts
    commits: tuple[Commit, ...] = ()


@dataclass(frozen=True)
class RunContext:
    """Everything one job run may use; jobs never build sessions or paths themselves."""

    spark: SparkSession
    settings: Settings
    run_date: date
    run_id: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def layout(self) -> LakeLayout:
        return LakeLayout(self.settings.lake)

    @property
    def tables(self) -> CuratedTables:
        return CuratedTables(self.spark, self.layout)

    def param(self, name: str, default: str) -> str:
        return self.params.get(name, default)

    def raw_dir(self, source: str) -> str:
        return self.layout.raw_dir(source, self.run_date)

    def read_table(self, name: str) -> DataFrame:
        """A curated table of this lake, read by path (no metastore needed)."""
        contract = table_contract(name)
        return self.spark.read.format("delta").load(self.tables.location(contract))


@dataclass(frozen=True)
class Job:
    """A named unit of work with declared inputs and outputs (the pipeline graph's nodes)."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run: Callable[[RunContext], JobOutcome]
    description: str

    def __post_init__(self) -> None:
        if not _JOB_NAME.match(self.name):
            raise UsageError(f"invalid job name {self.name!r}: expected <domain>.<job>")
        for dataset in (*self.inputs, *self.outputs):
            if not _DATASET.match(dataset):
                raise UsageError(f"job {self.name}: invalid dataset name {dataset!r}")
        for output in self.outputs:
            table_contract(output)  # every output has a contract, or the job cannot be defined

    @property
    def domain(self) -> str:
        return self.name.split(".")[0]

    @property
    def output_contracts(self) -> tuple[TableContract, ...]:
        return tuple(table_contract(o) for o in self.outputs)
