"""The run log `lakejobs.job_runs`: one row per job run, and the questions asked of it.

Each row records what the run read (`input_versions`: the Delta version of each input table, a
fingerprint of each raw delivery) and its resolved params, so that a later run with the same
inputs and params can be skipped.

A run's row is written when it starts (`running`, with host, pid and the process's start
token) and updated in place when it ends (`succeeded`/`failed`), or by a later run that finds
its process gone (`abandoned`). So a killed run still has a row, and every `run_id` found in a
table is in the log. Updated in place rather than append-only with "latest row per run_id" for
readers: the table keeps exactly one row per `run_id` for every reader, including those that
read it without lakejobs (DuckDB, pandas, BI over the Thrift server). The start is a blind
append, which never conflicts; the update is a MERGE on `run_id`, which conflicts with any
concurrent commit to this unpartitioned table, so it is retried a bounded number of times on
Delta's concurrent-modification errors (the log is tiny: a retry costs well under a second).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import Row

from lakejobs.catalog import Catalog
from lakejobs.commits import retry_on_conflict
from lakejobs.contracts import table_contract
from lakejobs.errors import SchemaDriftError
from lakejobs.job import Job, JobOutcome, ParamValue
from lakejobs.lake import HadoopFS
from lakejobs.locks import Process
from lakejobs.tables import TableWriter

RUN_LOG = "lakejobs.job_runs"
RUNNING, SUCCEEDED, FAILED, ABANDONED = "running", "succeeded", "failed", "abandoned"
UPDATE_ATTEMPTS = 8
STALE_AFTER = timedelta(hours=12)
T = TypeVar("T")


def params_json(params: Mapping[str, ParamValue]) -> str:
    """The canonical text of resolved params: what the skip key compares."""
    return json.dumps(dict(params), sort_keys=True)


@dataclass
class RunRecord:
    """One row of the run log, filled in as the run goes."""

    run_id: str
    job: str
    run_date: date
    params: Mapping[str, ParamValue]
    input_versions: Mapping[str, str] = field(default_factory=dict)
    status: str = RUNNING
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    outcome: JobOutcome | None = None
    error: str | None = None
    rolled_back: dict[str, int] = field(default_factory=dict)  # table -> version restored to
    process: Process = field(default_factory=Process.current)

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
            params=params_json(self.params),
            status=self.status,
            started_at=self.started_at.replace(tzinfo=None),
            finished_at=self.finished_at.replace(tzinfo=None) if self.finished_at else None,
            duration_s=round(self.duration_s, 3) if self.finished_at else None,
            rows_in=counts.rows_in if counts else None,
            rows_written=counts.written if counts else None,
            rows_quarantined=counts.quarantined if counts else None,
            rows_duplicates=counts.duplicates if counts else None,
            input_versions=dict(self.input_versions),
            output_versions=(
                {c.table: c.version for c in self.outcome.commits} if self.outcome else None
            ),
            error=self.error,
            host=self.process.host,
            pid=self.process.pid,
            process_start=self.process.start,
        )


def _frame(spark: SparkSession, record: RunRecord) -> DataFrame:
    return spark.createDataFrame([record.as_row()], schema=table_contract(RUN_LOG).schema)


def _ensure_log(catalog: Catalog) -> None:
    """Create the run log, or check it against its contract once per catalog; a log written
    before start rows existed is brought up to the contract first (`_upgrade`)."""
    contract = table_contract(RUN_LOG)
    try:
        catalog.ensure(contract)
    except SchemaDriftError:
        _upgrade(catalog.spark, catalog.location(contract))
        catalog.ensure(contract)


def _upgrade(spark: SparkSession, location: str) -> None:
    """Add the process columns to an old run log and allow null `finished_at`/`duration_s` (a
    running row has neither); the two came with start rows, so a log lacking the columns has
    the NOT NULL constraints too."""
    contract = table_contract(RUN_LOG)
    fields = {f.name: f for f in spark.read.format("delta").load(location).schema.fields}
    if any(name not in fields for name in contract.columns):
        empty = spark.createDataFrame([], contract.schema)
        empty.write.format("delta").mode("append").option("mergeSchema", "true").save(location)
    quoted = location.replace("`", "``")
    for column in ("finished_at", "duration_s"):
        if not fields[column].nullable:
            spark.sql(f"ALTER TABLE delta.`{quoted}` ALTER COLUMN {column} DROP NOT NULL")


def start(catalog: Catalog, record: RunRecord) -> None:
    """The run's first row, `running`: a blind append, so concurrent runs never conflict."""
    _ensure_log(catalog)
    TableWriter(catalog).append(table_contract(RUN_LOG), _frame(catalog.spark, record))


def _retried(action: Callable[[], T]) -> T:
    """`action`, retried on Delta commit conflicts while other runs update the log at once."""
    return retry_on_conflict(action, RUN_LOG, attempts=UPDATE_ATTEMPTS, base_delay_s=0.2)


def finish(catalog: Catalog, record: RunRecord) -> None:
    """Replace the run's row by its final state (inserted if the start row is missing)."""
    spark = catalog.spark
    frame = _frame(spark, record)
    location = catalog.location(table_contract(RUN_LOG))

    def merge() -> None:
        (
            DeltaTable.forPath(spark, location)
            .alias("t")
            .merge(frame.alias("s"), "t.run_id = s.run_id")
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute()
        )

    _retried(merge)


def mark_abandoned(catalog: Catalog) -> list[str]:
    """Mark `abandoned` every `running` run whose process is gone (checkable on this host only:
    a run started on another host is left as it is). Returns the run ids marked.

    The first thing a run does to the log, so it creates the log, or upgrades an old one,
    before reading it."""
    _ensure_log(catalog)
    spark = catalog.spark
    runs = read_runs(catalog)
    if runs is None:
        return []
    running = runs.where(F.col("status") == RUNNING).select(
        "run_id", "host", "pid", "process_start"
    )
    dead = [
        row["run_id"]
        for row in running.collect()
        if row["pid"] is not None
        and Process(row["host"], int(row["pid"]), row["process_start"]).alive() is False
    ]
    if not dead:
        return []
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = F.col("run_id").isin(dead) & (F.col("status") == RUNNING)
    location = catalog.location(table_contract(RUN_LOG))
    _retried(
        lambda: DeltaTable.forPath(spark, location).update(
            ids,
            {
                "status": F.lit(ABANDONED),
                "finished_at": F.lit(now),
                "duration_s": F.round(
                    F.unix_micros(F.lit(now)) / 1e6 - F.unix_micros("started_at") / 1e6, 3
                ),
                "error": F.concat(
                    F.lit("process "),
                    F.col("pid").cast("string"),
                    F.lit(" on "),
                    F.col("host"),
                    F.lit(" ended without finishing the run (killed?)"),
                ),
            },
        )
    )
    return dead


def running_elsewhere(catalog: Catalog, job: str, run_date: date) -> tuple[int | None, str] | None:
    """(pid, start time) of a live `running` run of `job` for `run_date`, or None: the same-run
    guard of lakes without OS locks (HDFS, S3), asked after `mark_abandoned`. A run on another
    host cannot be checked, so its row counts only for `STALE_AFTER` after its start: a crashed
    run there blocks its job and date for at most that long."""
    runs = read_runs(catalog)
    if runs is None:
        return None
    rows = (
        runs.where(
            (F.col("job") == job)
            & (F.col("run_date") == F.lit(run_date))
            & (F.col("status") == RUNNING)
            & (F.col("started_at") > F.lit((datetime.now(UTC) - STALE_AFTER).replace(tzinfo=None)))
        )
        .orderBy("started_at")
        .select("pid", "started_at")
        .collect()
    )
    if not rows:
        return None
    return rows[0]["pid"], f"{rows[0]['started_at']:%Y-%m-%d %H:%M:%S} UTC"


def read_runs(catalog: Catalog) -> DataFrame | None:
    """The whole run log, or None when nothing ran in this lake yet."""
    contract = table_contract(RUN_LOG)
    if not catalog.exists(contract):
        return None
    return catalog.spark.read.format("delta").load(catalog.location(contract))


def input_versions(catalog: Catalog, job: Job, run_date: date) -> dict[str, str]:
    """What `job` would read for `run_date`: table versions and raw-delivery fingerprints."""
    layout = catalog.layout
    fs = HadoopFS(catalog.spark)
    versions: dict[str, str] = {}
    for dataset in job.inputs:
        if dataset.startswith("raw."):
            listing = fs.list_file_status(layout.raw_dir(dataset[4:], run_date))
            digest = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()
            versions[dataset] = f"files:{len(listing)}:{digest[:16]}"
        else:
            version = catalog.version(table_contract(dataset))
            versions[dataset] = "absent" if version is None else f"v{version}"
    return versions


def previous_success(
    catalog: Catalog,
    job: str,
    run_date: date,
    inputs: Mapping[str, str],
    params: Mapping[str, ParamValue],
) -> str | None:
    """The run id of the latest successful run of `job` for `run_date` if it read the same
    inputs with the same params, else None.

    Only the latest success counts: after an hs5 re-grade, a csat9 run must grade again even
    though an older csat9 run on the same inputs succeeded.
    """
    runs = read_runs(catalog)
    if runs is None:
        return None
    latest = (
        runs.where(
            (F.col("job") == job)
            & (F.col("run_date") == F.lit(run_date))
            & (F.col("status") == SUCCEEDED)
        )
        .orderBy(F.desc("finished_at"))
        .select("run_id", "params", "input_versions")
        .first()
    )
    if latest is None or dict(latest["input_versions"] or {}) != dict(inputs):
        return None
    return latest["run_id"] if latest["params"] == params_json(params) else None
