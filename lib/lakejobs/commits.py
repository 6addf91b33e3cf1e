"""Delta commits lakejobs makes: tagged, retried on conflicts, found again by their tag.

Every write returns the `Commit` it made (version and Delta's own operation metrics), so callers
can account for rows with what Delta actually wrote instead of counting twice. The commit is found
by a tag in its `userMetadata`, never as "the last commit": a write Delta made no commit for
returns `Commit.none` (all zeros), and another process committing meanwhile is not mistaken for
it. The tag carries the run id, so a failed run's commits can be told from everyone else's.
Commit conflicts with concurrent writers (Delta's `Concurrent*Exception`) are retried with backoff.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteDeleteException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, Row, SparkSession

from lakejobs.errors import LakejobsError


class CommitConflictError(LakejobsError):
    """Concurrent writers kept conflicting with a commit after every retry."""


@dataclass(frozen=True)
class Commit:
    """One Delta commit made by lakejobs: the table, its new version, Delta's metrics.

    A write Delta made no commit for (nothing to change) is `Commit.none`: no version, and every
    metric is 0, never the numbers of an earlier commit.
    """

    table: str
    version: int | None
    operation: str = ""
    metrics: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def none(cls, table: str) -> Commit:
        return cls(table, None)

    @property
    def made(self) -> bool:
        return self.version is not None

    def metric(self, name: str) -> int:
        return int(self.metrics.get(name, 0))


def made(*commits: Commit) -> tuple[Commit, ...]:
    """The commits Delta actually made (a write with nothing to change makes none)."""
    return tuple(commit for commit in commits if commit.made)


def commit_of(table: str, row: Row) -> Commit:
    """The `Commit` of one row of `DeltaTable.history()`."""
    metrics = {k: int(v) for k, v in (row["operationMetrics"] or {}).items() if v.isdigit()}
    return Commit(table, int(row["version"]), row["operation"], metrics)


# Commits are tagged `lakejobs:<run id>/<uuid>` in Delta's `userMetadata`: the run id (the Spark
# job group `run_job` sets) says which run made a commit, the uuid which write.
TAG = "lakejobs:"
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


def run_tag_prefix(run_id: str) -> str:
    """What the tag of every commit of run `run_id` starts with."""
    return f"{TAG}{run_id}/"


def new_tag(spark: SparkSession) -> str:
    run_id = spark.sparkContext.getLocalProperty("spark.jobGroup.id") or "-"
    return f"{run_tag_prefix(run_id)}{uuid.uuid4().hex}"


@contextmanager
def user_metadata(spark: SparkSession, tag: str) -> Iterator[None]:
    """Tag every Delta commit made inside (writes, MERGE, RESTORE, OPTIMIZE alike)."""
    outer = spark.conf.get(_USER_METADATA, None)
    spark.conf.set(_USER_METADATA, tag)
    try:
        yield
    finally:
        if outer is None:
            spark.conf.unset(_USER_METADATA)
        else:
            spark.conf.set(_USER_METADATA, outer)


@contextmanager
def described(spark: SparkSession, step: str) -> Iterator[None]:
    """Name the Spark jobs started inside as `<current description>: <step>`, so that the Spark UI
    and the event log say which table a job was writing (profiles are read from there)."""
    context = spark.sparkContext
    outer = context.getLocalProperty("spark.job.description")
    context.setJobDescription(f"{outer}: {step}" if outer else step)
    try:
        yield
    finally:
        context.setLocalProperty("spark.job.description", outer)  # type: ignore[arg-type]  # None clears it


# Another writer committed first: the commit is retried on the new snapshot. Delta raises these
# only when the other commit really overlaps (same files or partitions read or written).
CONFLICTS: tuple[type[Exception], ...] = (
    ConcurrentAppendException,
    ConcurrentDeleteReadException,
    ConcurrentDeleteDeleteException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    MetadataChangedException,
    ProtocolChangedException,
)
RETRY_ATTEMPTS = 5
RETRY_BASE_DELAY_S = 0.5
T = TypeVar("T")


def retry_on_conflict(
    action: Callable[[], T],
    table: str,
    attempts: int = RETRY_ATTEMPTS,
    base_delay_s: float = RETRY_BASE_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `action`, retrying a Delta commit conflict up to `attempts` times in all.

    Waits grow exponentially with jitter (base * 2**n * [1, 2)), so writers that collided do
    not collide again in lockstep. Any other error is raised at once.
    """
    for attempt in range(1, attempts):
        try:
            return action()
        except CONFLICTS:
            sleep(base_delay_s * 2 ** (attempt - 1) * (1 + random.random()))
    try:
        return action()
    except CONFLICTS as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CommitConflictError(
            f"{table}: concurrent commits conflicted {attempts} times in a row "
            f"({type(exc).__name__}: {first})"
        ) from None


def is_delta_table(spark: SparkSession, location: str) -> bool:
    """Whether `location` holds a Delta table with a commit, as the file system says now.

    `DeltaTable.isDeltaTable` answers from the log snapshot this JVM cached the first time it
    looked, so after another process's first commit to a table it still says no until
    something reloads the log; loading it does.
    """
    if DeltaTable.isDeltaTable(spark, location):
        return True
    try:
        spark.read.format("delta").load(location)
    except AnalysisException:  # PATH_NOT_FOUND, DELTA_TABLE_NOT_FOUND (a folder, no commit)
        return False
    return True


def first_row(df: DataFrame) -> Row:
    """The first row of a DataFrame that has one (a table's detail, history or an aggregate)."""
    row = df.first()
    if row is None:
        raise LakejobsError("expected a row, got none")  # a Delta log without commits
    return row


def history_since(spark: SparkSession, location: str, version: int | None) -> list[Row]:
    """The commits of the table at `location` after `version` (all of them when None), newest
    first; reads one history row when nothing or one commit is new (the usual case)."""
    table = DeltaTable.forPath(spark, location)
    newest = first_row(table.history(1))
    start = -1 if version is None else version
    if int(newest["version"]) <= start:
        return []
    if int(newest["version"]) == start + 1:
        return [newest]
    return table.history(int(newest["version"]) - start).collect()
