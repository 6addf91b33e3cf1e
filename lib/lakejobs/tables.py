"""Curated Delta tables: register by contract, then write with one atomic commit per call.

Every write returns the `Commit` it made (version and Delta's own operation metrics), so callers
can account for rows with what Delta actually wrote instead of counting twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakejobs.contracts import TableContract
from lakejobs.errors import LakejobsError
from lakejobs.lake import LakeLayout
from lakejobs.sql import string_literal


class SchemaDriftError(LakejobsError):
    """A DataFrame or an existing table does not match the table contract."""


@dataclass(frozen=True)
class Commit:
    """One Delta commit made by lakejobs: the table, its new version, Delta's metrics."""

    table: str
    version: int
    operation: str
    metrics: Mapping[str, int]

    def metric(self, name: str) -> int:
        return int(self.metrics.get(name, 0))


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
        context.setLocalProperty("spark.job.description", outer)


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
        return DeltaTable.isDeltaTable(self.spark, self.location(contract))

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
        if not DeltaTable.isDeltaTable(self.spark, location):
            builder = (
                DeltaTable.createIfNotExists(self.spark)
                .location(location)
                .addColumns(contract.schema)
                .partitionedBy(*contract.partition_by)
                .comment(contract.description)
            )
            for key, value in table_properties(contract).items():
                builder = builder.property(key, value)
            try:
                builder.execute()
                return
            except Exception:
                # Another process created it between the check and our commit (two runs on a
                # fresh lake): fine if it is there now; the checks below still apply.
                if not DeltaTable.isDeltaTable(self.spark, location):
                    raise
        self._check_schema(contract, location)
        self._sync_properties(contract, location)

    def _register(self, contract: TableContract, location: str) -> None:
        if not self.spark.catalog.databaseExists(contract.database):
            database_location = f"{self.layout.root}/curated/{contract.database}"
            self.spark.sql(
                f"CREATE DATABASE IF NOT EXISTS {contract.database} "
                f"LOCATION {string_literal(database_location)}"
            )
        if self.spark.catalog.tableExists(contract.name):
            registered = self.spark.sql(f"DESCRIBE DETAIL {contract.name}").first()["location"]
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
        current = DeltaTable.forPath(self.spark, location).detail().first()["properties"] or {}
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
        row = DeltaTable.forPath(self.spark, self.location(contract)).history(1).first()
        metrics = {k: int(v) for k, v in (row["operationMetrics"] or {}).items() if v.isdigit()}
        return Commit(contract.name, int(row["version"]), row["operation"], metrics)

    def version(self, contract: TableContract) -> int | None:
        """Current Delta version, or None if the table was never written."""
        if not self.exists(contract):
            return None
        return self.last_commit(contract).version

    def replace_where(self, contract: TableContract, df: DataFrame, predicate: str) -> Commit:
        """Atomically replace the rows matching `predicate` with `df` (Delta `replaceWhere`).

        Delta checks that every written row satisfies the predicate, so a bug cannot spill
        rows outside the slice being replaced.
        """
        self.ensure(contract)
        with described(self.spark, f"write {contract.name}"):
            (
                conform(df, contract)
                .write.format("delta")
                .mode("overwrite")
                .option("replaceWhere", predicate)
                .save(self.location(contract))
            )
        return self.last_commit(contract)

    def append(self, contract: TableContract, df: DataFrame) -> Commit:
        self.ensure(contract)
        with described(self.spark, f"write {contract.name}"):
            conform(df, contract).write.format("delta").mode("append").save(self.location(contract))
        return self.last_commit(contract)

    def merge(
        self,
        contract: TableContract,
        df: DataFrame,
        update_condition: str | None = None,
    ) -> Commit:
        """Upsert `df` on the contract's primary key; `update_condition` guards updates.

        `df` must hold at most one row per key (deduplicate first), as MERGE requires.
        """
        if not contract.primary_key:
            raise SchemaDriftError(f"{contract.name} has no primary key to merge on")
        self.ensure(contract)
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in contract.primary_key)
        with described(self.spark, f"merge into {contract.name}"):
            (
                DeltaTable.forPath(self.spark, self.location(contract))
                .alias("t")
                .merge(conform(df, contract).alias("s"), on)
                .whenMatchedUpdateAll(condition=update_condition)
                .whenNotMatchedInsertAll()
                .execute()
            )
        return self.last_commit(contract)
