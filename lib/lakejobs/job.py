"""The Job contract, the run context a job receives, and row accounting enforced for every run.

A job declares its inputs (raw sources as `raw.<source>`, tables as `<db>.<table>`), its
outputs (`lakejobs.outputs`: how each table is written) and a transform that returns one
DataFrame per output. The runner (`lakejobs.runner`) reads the inputs, validates and writes the
outputs through `ctx.writer` and takes the row accounting from its commits; the pipeline times the run and records
it in `lakejobs.job_runs`, whatever the outcome.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, SparkSession

from lakejobs.catalog import Catalog
from lakejobs.commits import Commit
from lakejobs.config import Settings
from lakejobs.contracts import TableContract
from lakejobs.errors import AccountingError, UsageError
from lakejobs.lake import LakeLayout
from lakejobs.outputs import Output, Slices
from lakejobs.tables import TableWriter

if TYPE_CHECKING:
    from lakejobs.inputs import Inputs

_JOB_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_DATASET = re.compile(r"^(raw|[a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$")
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PARAM_TYPES = ("str", "int", "float")
ParamValue = str | int | float


@dataclass(frozen=True)
class Param:
    """One declared job parameter: parsed and checked from `--param name=text` before Spark starts.

    `choices` (allowed values) and `default` may be callables, read when a run resolves its
    params: a scheme list comes from a file, a default from the profile's settings.
    """

    name: str
    type: str
    help: str
    default: ParamValue | Callable[[Settings], ParamValue]
    choices: tuple[str, ...] | Callable[[], Iterable[str]] | None = None
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if not _PARAM_NAME.match(self.name):
            raise UsageError(f"invalid param name {self.name!r}")
        if self.type not in PARAM_TYPES:
            raise UsageError(f"param {self.name}: type must be one of {', '.join(PARAM_TYPES)}")

    def allowed(self) -> tuple[str, ...] | None:
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def parse(self, text: str) -> ParamValue:
        """The typed value of `text`, or a one-line `UsageError` saying what is expected."""
        value: ParamValue = text
        if self.type != "str":
            number: int | float | None
            if self.type == "int":
                number = int(text) if re.fullmatch(r"-?[0-9]+", text) else None
                expected = "a whole number"
            else:
                try:
                    number = float(text)
                except ValueError:
                    number = None
                number = None if number is None or not math.isfinite(number) else number
                expected = "a number"
            low = -math.inf if self.low is None else self.low
            high = math.inf if self.high is None else self.high
            if number is None or not low <= number <= high:
                bounds = f" from {low} to {high}" if math.isfinite(low - high) else ""
                raise UsageError(f"invalid {self.name} {text!r}: expected {expected}{bounds}")
            value = number
        allowed = self.allowed()
        if allowed is not None and text not in allowed:
            raise UsageError(
                f"invalid {self.name} {text!r}: expected one of {', '.join(sorted(allowed))}"
            )
        return value

    def default_for(self, settings: Settings) -> ParamValue:
        value = self.default(settings) if callable(self.default) else self.default
        return self.parse(str(value))  # a bad default (profile setting) fails like bad input


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
    """Everything one job run may use; jobs never build sessions or paths themselves.

    The catalog is the pipeline run's (one for all its jobs, so a table is ensured once); the
    writer is built from it once per run.
    """

    catalog: Catalog
    settings: Settings
    run_date: date
    run_id: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    @property
    def spark(self) -> SparkSession:
        return self.catalog.spark

    @property
    def layout(self) -> LakeLayout:
        return self.catalog.layout

    @cached_property
    def writer(self) -> TableWriter:
        return TableWriter(self.catalog)


@dataclass(frozen=True)
class Produced:
    """What a transform returns: one frame per output table (`Slices` to name the slices a
    `replace_slices` output replaces apart from its rows), and the accounting the commits
    cannot tell: the rows the job read, and for a deduplicating ingest the good rows the
    written ones were chosen from (duplicates = good - written).

    `batch` is an ingest's validated raw batch (quarantined rows included, `_quarantined`):
    the outputs' expectation suites are checked on it instead of on each output's rows.
    """

    frames: Mapping[str, DataFrame | Slices]
    rows_in: int
    good: int | None = None
    batch: DataFrame | None = None


Transform = Callable[[RunContext, "Inputs"], Produced]


@dataclass(frozen=True)
class Job:
    """A named unit of work with declared inputs and outputs (the pipeline graph's nodes).

    `module` is the module defining the job (its file is what spark-submit runs); discovery
    (`lakejobs.pipeline.registry`) fills it in.
    """

    name: str
    inputs: tuple[str, ...]
    writes: tuple[Output, ...]
    transform: Transform
    description: str
    params: tuple[Param, ...] = ()
    # Checks that need no data (a secret present and long enough): run before Spark starts.
    preflight: tuple[Callable[[Settings], None], ...] = ()
    module: str = ""

    def __post_init__(self) -> None:
        if not _JOB_NAME.match(self.name):
            raise UsageError(f"invalid job name {self.name!r}: expected <domain>.<job>")
        for dataset in (*self.inputs, *self.outputs):
            if not _DATASET.match(dataset):
                raise UsageError(f"job {self.name}: invalid dataset name {dataset!r}")
        if len(set(self.outputs)) != len(self.outputs):
            raise UsageError(f"job {self.name}: an output is declared twice")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise UsageError(f"job {self.name}: a param is declared twice")

    @property
    def domain(self) -> str:
        return self.name.split(".")[0]

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(output.table for output in self.writes)

    @property
    def output_contracts(self) -> tuple[TableContract, ...]:
        return tuple(output.contract for output in self.writes)

    def resolve_params(self, given: Mapping[str, str], settings: Settings) -> dict[str, ParamValue]:
        """Every declared param, typed: the given text parsed, the others their default.

        A key this job does not declare is an error (a typo must not run with the default).
        """
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            takes = ", ".join(sorted(declared)) or "no params"
            raise UsageError(f"unknown --param {', '.join(unknown)} ({self.name} takes: {takes})")
        return {
            name: param.parse(given[name]) if name in given else param.default_for(settings)
            for name, param in sorted(declared.items())
        }
