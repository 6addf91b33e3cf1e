"""The curated tables of one lake: where each lives, its Delta versions, and its metastore entry.

A `Catalog` creates a table from its contract on first use (`ensure`), checks an existing one
against it, and registers it by name when the session has a shared metastore. It remembers, as
instance state, which tables it has ensured: repeating the Delta-log and metastore round trips
before every write costs seconds per job, and one catalog serves a whole pipeline run.

Why register at all: a table's truth is its `_delta_log` in the lake, not a metastore entry. A notebook kernel or
the Thrift Server starts its own JVM, usually with a private (in-memory) or empty metastore,
because embedded Derby admits one JVM at a time. `Catalog.register_all` scans
`<lake>/curated/<db>/<table>/_delta_log` and makes `<db>.<table>` point at each one, so those
processes see the same tables by name as the nightly jobs, without sharing the jobs' metastore.

Each entry also gets the table's columns, with their comments (the Delta schema, which the
contracts wrote): Delta keeps a table's schema in its log and leaves the metastore entry's
schema empty, and JDBC/ODBC metadata (HiveServer2 `GetColumns`: DBeaver's navigator, Tableau's
field list) reads only the metastore entry.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from delta.tables import DeltaTable, DeltaTableBuilder
from pyspark.errors import AnalysisException
from pyspark.sql import Row, SparkSession

from lakejobs.commits import (
    Commit,
    commit_of,
    first_row,
    history_since,
    is_delta_table,
    retry_on_conflict,
)
from lakejobs.config import normalize_lake
from lakejobs.contracts import TableContract
from lakejobs.errors import SchemaDriftError
from lakejobs.lake import LakeLayout
from lakejobs.session import driver_jvm
from lakejobs.sql import string_literal

# Only names that are safe as unquoted SQL identifiers become tables; anything else is skipped
# (it was not written by lakejobs, whose contracts use such names).
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


@dataclass(frozen=True)
class FoundTable:
    """One Delta table found in the lake: `<database>.<table>` at `location`."""

    database: str
    table: str
    location: str

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}"


def tables_from_log_dirs(lake: str, log_dirs: Iterable[str]) -> list[FoundTable]:
    """Pure: turn `<lake>/curated/<db>/<table>/_delta_log` paths into tables, sorted by name.

    Paths outside `<lake>/curated/` or with names that are not plain identifiers are ignored.
    """
    root = _strip_scheme(normalize_lake(lake)).rstrip("/") + "/curated/"
    found: dict[str, FoundTable] = {}
    for log_dir in log_dirs:
        path = _strip_scheme(log_dir).rstrip("/")
        if not path.startswith(root) or not path.endswith("/_delta_log"):
            continue
        parts = path[len(root) :].split("/")
        if len(parts) != 3 or not all(_IDENTIFIER.match(p) for p in parts[:2]):
            continue
        database, table = parts[0], parts[1]
        location = f"{normalize_lake(lake)}/curated/{database}/{table}"
        found[f"{database}.{table}"] = FoundTable(database, table, location)
    return [found[name] for name in sorted(found)]


def _strip_scheme(uri: str) -> str:
    """Compare local paths however Hadoop spells them (`file:/x`, `file:///x`, `/x`)."""
    if uri.startswith("file:"):
        return "/" + uri.removeprefix("file:").lstrip("/")
    return uri


def find_tables(spark: SparkSession, lake: str) -> list[FoundTable]:
    """Every Delta table under `<lake>/curated/*/*`, through Hadoop (file, hdfs, s3a)."""
    jvm = driver_jvm(spark)
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    pattern = jvm.org.apache.hadoop.fs.Path(f"{normalize_lake(lake)}/curated/*/*/_delta_log")
    statuses = pattern.getFileSystem(conf).globStatus(pattern) or []
    return tables_from_log_dirs(lake, [str(s.getPath().toString()) for s in statuses])


CREATE_WAIT_S = 60.0  # how long another process's table creation may take to commit
# What Delta says to the second of two processes creating the same table at once.
_CREATE_RACE_ERRORS = ("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "DELTA_TABLE_NOT_FOUND")


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
    read and written by path) and query sessions call `register_lake`."""
    return spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "hive"


@dataclass(frozen=True)
class _Entry:
    """What the metastore holds for a table: its location and whether it lists columns."""

    location: str
    has_columns: bool


class Catalog:
    """The curated side of one lake: Delta tables by path, also registered as `<db>.<table>`
    when the session has a shared metastore (or when `register_all` is asked to)."""

    def __init__(self, spark: SparkSession, layout: LakeLayout) -> None:
        self.spark = spark
        self.layout = layout
        self._ensured: dict[str, str] = {}  # table name -> the location this catalog ensured

    def location(self, contract: TableContract) -> str:
        return self.layout.curated_dir(contract.database, contract.table)

    def exists(self, contract: TableContract) -> bool:
        return is_delta_table(self.spark, self.location(contract))

    def ensure(self, contract: TableContract) -> None:
        """Create the Delta table if needed (by path), check its schema against the contract and
        sync its properties; with a shared metastore, make `<db>.<table>` point at it."""
        location = self.location(contract)
        if self._ensured.get(contract.name) == location:
            return
        self._create_or_check(contract, location)
        if registers_by_name(self.spark):
            self._register(FoundTable(contract.database, contract.table, location))
        self._ensured[contract.name] = location

    def last_commit(self, contract: TableContract) -> Commit:
        """The table's newest commit, whoever made it (for reports, never for a write's metrics)."""
        table = DeltaTable.forPath(self.spark, self.location(contract))
        return commit_of(contract.name, first_row(table.history(1)))

    def version(self, contract: TableContract) -> int | None:
        """Current Delta version, or None if the table was never written."""
        if not self.exists(contract):
            return None
        return self.last_commit(contract).version

    def versions(self, contracts: Iterable[TableContract]) -> dict[str, int | None]:
        """Current version of each table (None: absent), recorded before a run to roll back to."""
        return {contract.name: self.version(contract) for contract in contracts}

    def history_since(self, contract: TableContract, version: int | None) -> list[Row]:
        """The table's commits after `version` (all of them when None), newest first."""
        return history_since(self.spark, self.location(contract), version)

    def register_all(self, databases: Iterable[str] | None = None) -> list[str]:
        """Make `<db>.<table>` point at every Delta table of the lake (or of the given
        `databases`); return the names, sorted.

        Idempotent: tables already registered at the same location are left alone (apart from
        getting their columns if the entry has none); entries that point at another lake are
        re-pointed (the tables are external, so no data is touched). New data in an existing
        table needs nothing (Delta reads the latest version per query); tables created after
        this call need another call.
        """
        wanted = None if databases is None else set(databases)
        names = []
        for found in find_tables(self.spark, self.layout.root):
            if wanted is None or found.database in wanted:
                self._register(found)
                names.append(found.name)
        return names

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

    def _register(self, found: FoundTable) -> None:
        """Make the metastore entry `<db>.<table>` point at the table, with its columns: the one
        way lakejobs registers a table, for jobs and query sessions alike."""
        if not self.spark.catalog.databaseExists(found.database):
            database_location = f"{self.layout.root}/curated/{found.database}"
            self.spark.sql(
                f"CREATE DATABASE IF NOT EXISTS {found.database} "
                f"LOCATION {string_literal(database_location)}"
            )
        entry = _entry(self.spark, found.database, found.table)
        if entry is None or not _same(entry.location, found.location):
            # An entry pointing at another lake (tests, a moved lake) is re-pointed; the table
            # is external, so dropping the entry leaves both lakes' data untouched.
            if entry is not None:
                self.spark.sql(f"DROP TABLE IF EXISTS {found.name}")
            self.spark.sql(
                f"CREATE TABLE IF NOT EXISTS {found.name} USING DELTA "
                f"LOCATION {string_literal(found.location)}"
            )
            self._ensured.pop(found.name, None)  # re-pointed: a later write checks it again
            _store_columns(self.spark, found)
        elif not entry.has_columns:
            _store_columns(self.spark, found)

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


def register_lake(
    spark: SparkSession, lake: str, databases: Iterable[str] | None = None
) -> list[str]:
    """Register every curated table of `lake` (or of `databases`) by name in this session's
    metastore, for notebooks and query servers: `Catalog.register_all`."""
    return Catalog(spark, LakeLayout(normalize_lake(lake))).register_all(databases)


def _entry(spark: SparkSession, database: str, table: str) -> _Entry | None:
    """The metastore entry of `<database>.<table>`, from the metastore alone (DESCRIBE DETAIL
    would replay the Delta log, seconds per table on a small machine)."""
    catalog = spark._jsparkSession.sharedState().externalCatalog()
    if not catalog.tableExists(database, table):
        return None
    entry = catalog.getTable(database, table)
    location = entry.storage().locationUri()
    return _Entry(
        location=str(location.get().toString()) if location.isDefined() else "",
        has_columns=entry.schema().nonEmpty(),
    )


# A Hive metastore first tries to store a Delta table's schema Hive-compatibly, refuses (the entry
# holds Spark's placeholder column), logs that with a stack trace, and Spark then stores it as
# table properties, which is what it reads back. Those two loggers stay quiet meanwhile.
_HIVE_ALTER_LOGGERS = (
    "org.apache.hadoop.hive.metastore.HiveAlterHandler",
    "org.apache.hadoop.hive.metastore.RetryingHMSHandler",
)


@contextlib.contextmanager
def _quiet_hive_alter(spark: SparkSession) -> Iterator[None]:
    jvm = driver_jvm(spark)
    configurator = jvm.org.apache.logging.log4j.core.config.Configurator
    manager = jvm.org.apache.logging.log4j.LogManager
    before = {name: manager.getLogger(name).getLevel() for name in _HIVE_ALTER_LOGGERS}
    for name in _HIVE_ALTER_LOGGERS:
        configurator.setLevel(name, jvm.org.apache.logging.log4j.Level.OFF)
    try:
        yield
    finally:
        for name, level in before.items():
            configurator.setLevel(name, level)


def _store_columns(spark: SparkSession, found: FoundTable) -> None:
    """Write the Delta table's columns (names, types, comments) into its metastore entry."""
    jspark = spark._jsparkSession
    schema = jspark.table(found.name).schema()  # Delta's schema, from the table's log
    identifier = jspark.sessionState().sqlParser().parseTableIdentifier(found.name)
    with _quiet_hive_alter(spark):
        jspark.sessionState().catalog().alterTableDataSchema(identifier, schema)


def _same(a: str, b: str) -> bool:
    return _strip_scheme(a).rstrip("/") == _strip_scheme(b).rstrip("/")
