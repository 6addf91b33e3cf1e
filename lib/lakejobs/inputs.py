"""A run's declared inputs, and nothing else: what a transform reads through.

Reading a dataset the job did not declare is an error, so the job graph (built from the
declarations) cannot miss an edge. Frames a transform uses more than once are `shared`: cached
for the run and released by the runner once the outputs are written.
"""

from __future__ import annotations

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from lakejobs import runlog
from lakejobs.contracts import raw_source, table_contract
from lakejobs.errors import UsageError
from lakejobs.job import Job, RunContext
from lakejobs.jsonlines import read_raw_json_lines
from lakejobs.lake import read_raw_csv


class Inputs:
    """The declared inputs of one job run, read by path (no metastore needed)."""

    def __init__(self, ctx: RunContext, job: Job) -> None:
        self._ctx = ctx
        self._job = job
        self._shared: list[DataFrame] = []

    def _declared(self, dataset: str) -> str:
        if dataset not in self._job.inputs:
            raise UsageError(
                f"{self._job.name} reads {dataset}, which it does not declare as an input "
                f"(inputs: {', '.join(self._job.inputs) or 'none'})"
            )
        return dataset

    def _location(self, table: str) -> str:
        return self._ctx.catalog.location(table_contract(self._declared(table)))

    def table(self, name: str) -> DataFrame:
        """A curated table as it is now."""
        return self._ctx.spark.read.format("delta").load(self._location(name))

    def _raw_dir(self, source: str) -> str:
        self._declared(f"raw.{source}")
        return self._ctx.layout.raw_dir(source, self._ctx.run_date)

    def raw_csv(self, source: str) -> DataFrame:
        """The run date's CSV delivery of `source`, read by its raw contract."""
        return read_raw_csv(self._ctx.spark, raw_source(source), self._raw_dir(source))

    def raw_json_lines(self, source: str, schema: StructType) -> DataFrame:
        """The run date's JSON-lines delivery of `source` (malformed lines kept)."""
        return read_raw_json_lines(self._ctx.spark, self._raw_dir(source), schema)

    def as_last_read(self, table: str) -> DataFrame | None:
        """`table` at the version this job's last successful run for the run date read, or None.

        What the job computed its outputs from: after a re-delivery, the keys that date
        delivered before tell which outputs must be recomputed although the keys are gone now.
        """
        location = self._location(table)
        ctx = self._ctx
        runs = runlog.read_runs(ctx.catalog)
        if runs is None:
            return None
        last = (
            runs.where(
                (F.col("job") == self._job.name)
                & (F.col("run_date") == F.lit(ctx.run_date))
                & (F.col("status") == "succeeded")
            )
            .orderBy(F.desc("finished_at"))
            .select(F.col("input_versions")[table].alias("version"))
            .first()
        )
        version = (last["version"] or "") if last else ""
        if not version.startswith("v"):  # never run, or the table was absent then
            return None
        return ctx.spark.read.format("delta").option("versionAsOf", int(version[1:])).load(location)

    def shared(self, df: DataFrame) -> DataFrame:
        """`df` cached for this run: it feeds several outputs or counts, and is computed once."""
        cached = df.persist(StorageLevel.MEMORY_AND_DISK)
        self._shared.append(cached)
        return cached

    def release(self) -> None:
        """Drop what `shared` cached (the runner calls it once the run has written or failed)."""
        while self._shared:
            self._shared.pop().unpersist()
