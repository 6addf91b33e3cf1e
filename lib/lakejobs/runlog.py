"""The run log `lakejobs.job_runs`: one row per job run, and the questions asked of it.

Each row records what the run read (`input_versions`: the Delta version of each input table, a
fingerprint of each raw delivery) so that a later run with the same inputs can be skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import Row

from lakejobs.config import Settings
from lakejobs.contracts import table_contract
from lakejobs.job import Job, JobOutcome
from lakejobs.lake import HadoopFS, LakeLayout
from lakejobs.tables import CuratedTables

RUN_LOG = "lakejobs.job_runs"


@dataclass
class RunRecord:
    """One row of the run log, filled in as the run goes."""

    run_id: str
    job: str
    run_date: date
    params: Mapping[str, str]
    input_versions: Mapping[str, str] = field(default_factory=dict)
    status: str = "running"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    outcome: JobOutcome | None = None
    error: str | None = None
    rolled_back: dict[str, int] = field(default_factory=dict)  # table -> version restored to

    @property
    def duration_s(self) -> float:
        end = self.finished_at or datetime.now(UTC)
        return (end - self.started_at).total_seconds()

    def as_row(self) -> Row:
        counts = self.outcome.counts if self.outcome else None
        return Row(
            run_id=self.run_id,
            job=self.job,
            run_date=self.run_date,
            params=json.dumps(dict(self.params), sort_keys=True),
            status=self.status,
            started_at=self.started_at.replace(tzinfo=None),
            finished_at=(self.finished_at or datetime.now(UTC)).replace(tzinfo=None),
            duration_s=round(self.duration_s, 3),
            rows_in=counts.rows_in if counts else None,
            rows_written=counts.written if counts else None,
            rows_quarantined=counts.quarantined if counts else None,
            rows_duplicates=counts.duplicates if counts else None,
            input_versions=dict(self.input_versions),
            output_versions=(
                {c.table: c.version for c in self.outcome.commits} if self.outcome else None
            ),
            error=self.error,
        )


def _tables(spark: SparkSession, settings: Settings) -> CuratedTables:
    return CuratedTables(spark, LakeLayout(settings.lake))


def append(spark: SparkSession, settings: Settings, record: RunRecord) -> None:
    contract = table_contract(RUN_LOG)
    frame = spark.createDataFrame([record.as_row()], schema=contract.schema)
    _tables(spark, settings).append(contract, frame)


def read_runs(spark: SparkSession, settings: Settings) -> DataFrame | None:
    """The whole run log, or None when nothing ran in this lake yet."""
    tables = _tables(spark, settings)
    contract = table_contract(RUN_LOG)
    if not tables.exists(contract):
        return None
    return spark.read.format("delta").load(tables.location(contract))


def input_versions(spark: SparkSession, settings: Settings, job: Job, run_date: date) -> dict:
    """What `job` would read for `run_date`: table versions and raw-delivery fingerprints."""
    tables = _tables(spark, settings)
    layout = LakeLayout(settings.lake)
    fs = HadoopFS(spark)
    versions: dict[str, str] = {}
    for dataset in job.inputs:
        if dataset.startswith("raw."):
            listing = fs.list_file_status(layout.raw_dir(dataset[4:], run_date))
            digest = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()
            versions[dataset] = f"files:{len(listing)}:{digest[:16]}"
        else:
            version = tables.version(table_contract(dataset))
            versions[dataset] = "absent" if version is None else f"v{version}"
    return versions


def previous_success(
    spark: SparkSession, settings: Settings, job: str, run_date: date, inputs: Mapping[str, str]
) -> str | None:
    """The run id of an earlier successful run of `job` for `run_date` on the same inputs."""
    runs = read_runs(spark, settings)
    if runs is None:
        return None
    wanted = F.map_from_arrays(
        F.array(*[F.lit(k) for k in sorted(inputs)]),
        F.array(*[F.lit(inputs[k]) for k in sorted(inputs)]),
    )
    match = (
        runs.where(
            (F.col("job") == job)
            & (F.col("run_date") == F.lit(run_date))
            & (F.col("status") == "succeeded")
            & (
                F.to_json(F.array_sort(F.map_entries("input_versions")))
                == F.to_json(F.array_sort(F.map_entries(wanted)))
            )
        )
        .orderBy(F.desc("finished_at"))
        .select("run_id")
        .first()
    )
    return match["run_id"] if match else None
