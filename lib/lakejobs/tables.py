"""Curated Delta tables: register by contract, then write with one atomic commit per call.

Every write returns the `Commit` it made (version and Delta's own operation metrics), so callers
can account for rows with what Delta actually wrote instead of counting twice. The commit is found
by a tag in its `userMetadata`, never as "the last commit": a write Delta made no commit for
returns `Commit.none` (all zeros), and another process committing meanwhile is not mistaken for
it. The tag carries the run id, so `roll_back` restores exactly what a failed run committed.
Commit conflicts with concurrent writers (Delta's `Concurrent*Exception`) are retried with backoff.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from delta.tables import DeltaTable, DeltaTableBuilder
from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from lakejobs.contracts import TableContract
from lakejobs.errors import LakejobsError
from lakejobs.lake import LakeLayout
from lakejobs.sql import string_literal


class SchemaDriftError(LakejobsError):
    """A DataFrame or an existing table does not match the table contract."""


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


def _commit_of(contract: TableContract, row: Row) -> Commit:
    metrics = {k: int(v) for k, v in (row["operationMetrics"] or {}).items() if v.isdigit()}
    return Commit(contract.name, int(row["version"]), row["operation"], metrics)


# Commits are tagged `lakejobs:<run id>/<uuid>` in Delta's `userMetadata`: the run id (the Spark
# job group `run_job` sets) says which run made a commit, the uuid which write.
_TAG = "lakejobs:"
_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
_DROP = "_lakejobs_drop"


def _new_tag(spark: SparkSession) -> str:
    run_id = spark.sparkContext.getLocalProperty("spark.jobGroup.id") or "-"
    return f"{_TAG}{run_id}/{uuid.uuid4().hex}"


@contextmanager
def _user_metadata(spark: SparkSession, tag: str) -> Iterator[None]:
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
CREATE_WAIT_S = 60.0  # how long another process's table creation may take to commit
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


# What Delta says to the second of two processes creating the same table at once.
_CREATE_RACE_ERRORS = ("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "DELTA_TABLE_NOT_FOUND")


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


def _partition_filter(seen: list[Row], partition_by: tuple[str, ...]) -> Column:
    """`t.p IN (the source's values)` per partition column: MERGE reads only those partitions."""
    condition = F.lit(True)
    for column in partition_by:
        values = sorted({row[column] for row in seen}, key=str)
        condition = condition & F.col(f"t.`{column}`").isin(values)
    return condition


def conform(df: DataFrame, contract: TableContract) -> DataFrame:
    """Select and cast `df` to the contract's columns, in order; any mismatch is an error.

    Columns starting with `_` are bookkeeping and are dropped; any other extra column means a
    transform and its contract disagree, which must be fixed rather than silently dropped.
    """
    present = [c for c in df.columns if not c.startswith("_")]
    missing = [c for c in contract.columns if c not in present]
    extra = [c for c in present if c not in contract.columns]
    if missing or extra:
        raise SchemaDriftError(
            f"{contract.name}: data does not match the contract "
            f"(missing: {', '.join(missing) or 'none'}; not in contract: {', '.join(extra) or 'none'})"
        )
    return df.select(
        *[F.col(f.name).cast(f.dataType).alias(f.name) for f in contract.schema.fields]
    )


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


def _same_location(a: str, b: str) -> bool:
    def norm(uri: str) -> str:
        return uri.replace("file:///", "file:/").rstrip("/")

    return norm(a) == norm(b)


# Table name -> location this process last ensured: `ensure` is idempotent, and repeating its
# Delta-log (and metastore) round trips before every write costs seconds per job.
_REGISTERED: dict[str, str] = {}


def table_properties(contract: TableContract) -> dict[str, str]:
    """The Delta table properties a contract owns."""
    if not contract.stats_columns:
        return {}
    return {"delta.dataSkippingStatsColumns": ",".join(contract.stats_columns)}


def path_identifier(location: str) -> str:
    """The SQL identifier of a Delta table by path, `delta.`<location>`` (backticks doubled)."""
    return "delta.`" + location.replace("`", "``") + "`"


def registers_by_name(spark: SparkSession) -> bool:
    """True when the session has a real metastore (Hive, Glue, Derby) that jobs register tables
    in; the default in-memory catalog is private to one process, so jobs skip it (tables are
    read and written by path) and query sessions call `lakejobs.catalog.register_lake`."""
    return spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "hive"


class CuratedTables:
    """The curated side of one lake: Delta tables by path, also registered as `<db>.<table>`
    when the session has a shared metastore."""

    def __init__(self, spark: SparkSession, layout: LakeLayout) -> None:
        self.spark = spark
        self.layout = layout

    def location(self, contract: TableContract) -> str:
        return self.layout.curated_dir(contract.database, contract.table)

    def exists(self, contract: TableContract) -> bool:
        return is_delta_table(self.spark, self.location(contract))

    def ensure(self, contract: TableContract) -> None:
        """Create the Delta table if needed (by path), check its schema against the contract and
        sync its properties; with a shared metastore, make `<db>.<table>` point at it."""
        location = self.location(contract)
        if _REGISTERED.get(contract.name) == location:
            return
        self._create_or_check(contract, location)
        if registers_by_name(self.spark):
            self._register(contract, location)
        _REGISTERED[contract.name] = location

    def _create_or_check(self, contract: TableContract, location: str) -> None:
        if not is_delta_table(self.spark, location):
            builder = (
                DeltaTable.createIfNotExists(self.spark)
                .location(location)
                .addColumns(contract.schema)
                .partitionedBy(*contract.partition_by)
                .comment(contract.description)
            )
            for key, value in table_properties(contract).items():
                builder = builder.property(key, value)
            # Two runs on a fresh lake may create it at once: the loser's commit conflicts
            # (ProtocolChanged), and its retry of createIfNotExists finds the winner's table.
            retry_on_conflict(functools.partial(self._create, builder, location), contract.name)
        self._check_schema(contract, location)
        self._sync_properties(contract, location)

    def _create(self, builder: DeltaTableBuilder, location: str) -> None:
        """`builder.execute()`; when another process is between creating the table's folder and
        its first commit, Delta refuses the non-empty location, or finds the `_delta_log` folder
        it is about to write into without a commit (table not found): wait for that commit."""
        try:
            builder.execute()
        except AnalysisException as exc:
            if not any(code in str(exc) for code in _CREATE_RACE_ERRORS):
                raise
            deadline = time.monotonic() + CREATE_WAIT_S
            while not is_delta_table(self.spark, location):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _register(self, contract: TableContract, location: str) -> None:
        if not self.spark.catalog.databaseExists(contract.database):
            database_location = f"{self.layout.root}/curated/{contract.database}"
            self.spark.sql(
                f"CREATE DATABASE IF NOT EXISTS {contract.database} "
                f"LOCATION {string_literal(database_location)}"
            )
        if self.spark.catalog.tableExists(contract.name):
            registered = first_row(self.spark.sql(f"DESCRIBE DETAIL {contract.name}"))["location"]
            if _same_location(registered, location):
                return
            # The metastore points at another lake (tests, a moved lake): re-point it; the
            # table is external, so dropping the entry leaves both lakes' data untouched.
            self.spark.sql(f"DROP TABLE {contract.name}")
        self.spark.sql(
            f"CREATE TABLE IF NOT EXISTS {contract.name} USING DELTA "
            f"LOCATION {string_literal(location)}"
        )

    def _sync_properties(self, contract: TableContract, location: str) -> None:
        """Bring an existing table's contract-owned properties up to date (one commit, if any)."""
        wanted = table_properties(contract)
        if not wanted:
            return
        current = first_row(DeltaTable.forPath(self.spark, location).detail())["properties"] or {}
        stale = {k: v for k, v in wanted.items() if current.get(k) != v}
        if stale:
            assignments = ", ".join(
                f"{string_literal(k)} = {string_literal(v)}" for k, v in sorted(stale.items())
            )
            self.spark.sql(
                f"ALTER TABLE {path_identifier(location)} SET TBLPROPERTIES ({assignments})"
            )

    def _check_schema(self, contract: TableContract, location: str) -> None:
        schema = DeltaTable.forPath(self.spark, location).toDF().schema
        actual = {f.name: f.dataType for f in schema.fields}
        expected = {f.name: f.dataType for f in contract.schema.fields}
        if actual != expected:
            differ = sorted(
                name
                for name in set(actual) | set(expected)
                if actual.get(name) != expected.get(name)
            )
            raise SchemaDriftError(
                f"{contract.name} at {location} does not match its contract "
                f"(columns differing: {', '.join(differ)}); migrate the table or fix the contract"
            )

    def last_commit(self, contract: TableContract) -> Commit:
        """The table's newest commit, whoever made it (for reports, never for a write's metrics)."""
        return _commit_of(
            contract, first_row(DeltaTable.forPath(self.spark, self.location(contract)).history(1))
        )

    def version(self, contract: TableContract) -> int | None:
        """Current Delta version, or None if the table was never written."""
        if not self.exists(contract):
            return None
        return self.last_commit(contract).version

    def versions(self, contracts: Iterable[TableContract]) -> dict[str, int | None]:
        """Current version of each table (None: absent), recorded before a run to roll back to."""
        return {contract.name: self.version(contract) for contract in contracts}

    def _commit(self, contract: TableContract, step: str, write: Callable[[], object]) -> Commit:
        """Run `write` (retried on commit conflicts) and return the commit it made, found by tag.

        Each write's commit carries a unique tag in its `userMetadata`, so the commit returned is
        the one this write made even when other processes commit to the table meanwhile; a write
        that Delta turned into no commit at all (nothing to change) returns `Commit.none`.
        """
        before = self.version(contract)
        tag = _new_tag(self.spark)

        def attempt() -> None:
            with described(self.spark, step), _user_metadata(self.spark, tag):
                write()

        retry_on_conflict(attempt, contract.name)
        return self._tagged(contract, before, tag) or Commit.none(contract.name)

    def _history_since(self, contract: TableContract, version: int | None) -> list[Row]:
        """The commits after `version` (all of them when None), newest first."""
        table = DeltaTable.forPath(self.spark, self.location(contract))
        newest = first_row(table.history(1))
        start = -1 if version is None else version
        if int(newest["version"]) <= start:
            return []
        if int(newest["version"]) == start + 1:
            return [newest]
        return table.history(int(newest["version"]) - start).collect()

    def _tagged(self, contract: TableContract, before: int | None, tag: str) -> Commit | None:
        for row in self._history_since(contract, before):
            if row["userMetadata"] == tag:
                return _commit_of(contract, row)
        return None

    def replace_where(self, contract: TableContract, df: DataFrame, predicate: str) -> Commit:
        """Atomically replace the rows matching `predicate` with `df` (Delta `replaceWhere`).

        Delta checks that every written row satisfies the predicate, so a bug cannot spill
        rows outside the slice being replaced.
        """
        self.ensure(contract)
        return self._commit(
            contract,
            f"write {contract.name}",
            lambda: (
                conform(df, contract)
                .write.format("delta")
                .mode("overwrite")
                .option("replaceWhere", predicate)
                .save(self.location(contract))
            ),
        )

    def append(self, contract: TableContract, df: DataFrame) -> Commit:
        self.ensure(contract)
        return self._commit(
            contract,
            f"write {contract.name}",
            lambda: (
                conform(df, contract)
                .write.format("delta")
                .mode("append")
                .save(self.location(contract))
            ),
        )

    def merge(
        self,
        contract: TableContract,
        df: DataFrame,
        update_condition: str | None = None,
        *,
        insert_only: bool = False,
        owned: str | None = None,
    ) -> Commit:
        """Upsert `df` on the contract's primary key in one commit; `update_condition` guards
        updates, `insert_only` leaves existing keys alone.

        `owned` is a predicate on the table selecting the rows `df` replaces as a whole (a
        delivery date's rows, `ingest_date = DATE'...'`): those whose key is absent from `df` are
        deleted in the same commit. They join the source as tombstones rather than through
        `WHEN NOT MATCHED BY SOURCE`, which makes Delta rewrite every file of the table. The ON
        clause is limited to the partitions of the source and the tombstones, so a small
        delivery rewrites only the files of the partitions it touches.
        `df` must hold at most one row per key (deduplicate first), as MERGE requires.
        """
        if not contract.primary_key:
            raise SchemaDriftError(f"{contract.name} has no primary key to merge on")
        self.ensure(contract)
        keys = contract.primary_key
        source = conform(df, contract)
        # Tombstones only when the table holds rows of `owned` (not on a first delivery).
        tombstones = owned is not None and self._holds_rows(contract, F.expr(owned))
        if owned is not None and tombstones:
            withdrawn = (
                self.spark.read.format("delta")
                .load(self.location(contract))
                .where(F.expr(owned))
                .select(*dict.fromkeys((*keys, *contract.partition_by)))
                .join(source.select(*keys), list(keys), "left_anti")
            )
            source = source.withColumn(_DROP, F.lit(False)).unionByName(
                withdrawn.withColumn(_DROP, F.lit(True)), allowMissingColumns=True
            )
        source = source.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            wanted = [*contract.partition_by, *([_DROP] if tombstones else [])]
            seen = source.select(*wanted).distinct().collect() if wanted else []
            # Matched-row clauses make Delta rewrite the files of every matched row, so the
            # tombstone clauses are there only when a key was withdrawn (an insert-only MERGE
            # of a first delivery then adds files and rewrites none).
            drops = tombstones and any(row[_DROP] for row in seen)
            on = _partition_filter(seen, contract.partition_by)
            # No row yet in the source's partitions (a first delivery): nothing can match, so
            # the MERGE keeps only its insert clause, which Delta writes without a join.
            first_rows = not (insert_only or drops or self._holds_rows(contract, on))
            for k in keys:
                on = on & (F.col(f"t.`{k}`") == F.col(f"s.`{k}`"))
            columns: dict[str, str | Column] = {c: f"s.`{c}`" for c in contract.columns}
            keep = f"NOT s.{_DROP}" if drops else None

            def write(updates: bool) -> None:
                builder = (
                    DeltaTable.forPath(self.spark, self.location(contract))
                    .alias("t")
                    .merge(source.alias("s"), on)
                )
                if drops:
                    builder = builder.whenMatchedDelete(condition=f"s.{_DROP}")
                if updates:
                    guard = " AND ".join(f"({c})" for c in (keep, update_condition) if c)
                    builder = builder.whenMatchedUpdate(condition=guard or None, set=columns)
                insert = F.expr(keep) if keep else F.lit(True)
                builder.whenNotMatchedInsert(condition=insert, values=columns).execute()

            step = f"merge into {contract.name}"
            commit = self._commit(
                contract, step, functools.partial(write, not (insert_only or first_rows))
            )
            if first_rows and commit.metric("numTargetRowsInserted") < commit.metric(
                "numSourceRows"
            ):
                # Another run committed rows of these partitions between the check and the
                # MERGE, and the insert-only MERGE left its keys alone: the full MERGE updates
                # them as any delivery does.
                commit = self._commit(contract, step, functools.partial(write, True))
            return commit
        finally:
            source.unpersist()

    def _holds_rows(self, contract: TableContract, where: Column) -> bool:
        """Whether the table has a row matching `where` (on `t.` partition columns: Delta reads
        the log and at most one file of those partitions)."""
        table = self.spark.read.format("delta").load(self.location(contract)).alias("t")
        return not table.where(where).isEmpty()

    def roll_back(
        self, contracts: Iterable[TableContract], before: Mapping[str, int | None], run_id: str
    ) -> dict[str, int]:
        """Restore every table that run `run_id` committed to since `before` to that version.

        Each goes back to the version before this run's first commit to it (returned per table),
        so commits of other runs made before it stay. A table absent before the run goes back to
        version 0: the empty table `ensure` created from its contract (every write calls
        `ensure` first), which reads as no rows, as the absent table did. A table another run
        committed to after this run's first commit is left as it is: restoring it would undo
        the other run's commit too.
        """
        restored: dict[str, int] = {}
        mine = f"{_TAG}{run_id}/"
        for contract in contracts:
            if not self.exists(contract):
                continue
            since = self._history_since(contract, before.get(contract.name))[::-1]  # oldest first
            tags = [row["userMetadata"] or "" for row in since]
            first = next((i for i, tag in enumerate(tags) if tag.startswith(mine)), None)
            if first is None or any(not tag.startswith(mine) for tag in tags[first:]):
                continue
            target = int(since[first]["version"]) - 1
            table = DeltaTable.forPath(self.spark, self.location(contract))
            restore = functools.partial(table.restoreToVersion, target)
            self._commit(contract, f"roll back {contract.name}", restore)
            restored[contract.name] = target
        return restored
