"""Register every curated Delta table of a lake by name in a session's metastore.

Why: a table's truth is its `_delta_log` in the lake, not a metastore entry. A notebook kernel or
the Thrift Server starts its own JVM, usually with a private (in-memory) or empty metastore,
because embedded Derby admits one JVM at a time. `register_lake` scans
`<lake>/curated/<db>/<table>/_delta_log` and makes `<db>.<table>` point at each one, so those
processes see the same tables by name as the nightly jobs, without sharing the jobs' metastore.

Each entry also gets the table's columns, with their comments (the Delta schema, which the
contracts wrote): Delta keeps a table's schema in its log and leaves the metastore entry's
schema empty, and JDBC/ODBC metadata (HiveServer2 `GetColumns`: DBeaver's navigator, Tableau's
field list) reads only the metastore entry.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakejobs import tables as _tables
from lakejobs.config import normalize_lake
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


@dataclass(frozen=True)
class _Entry:
    """What the metastore holds for a table: its location and whether it lists columns."""

    location: str
    has_columns: bool


def _registered(spark: SparkSession, database: str) -> dict[str, _Entry]:
    """Table -> metastore entry of every table registered in `database`, from the metastore
    alone (DESCRIBE DETAIL would replay each Delta log, seconds per table on a small machine)."""
    catalog = spark._jsparkSession.sharedState().externalCatalog()
    if not catalog.databaseExists(database):
        return {}
    entries = {}
    tables = spark.sql(f"SHOW TABLES IN {database}").where("NOT isTemporary").collect()
    for table in (row["tableName"] for row in tables):
        entry = catalog.getTable(database, table)
        location = entry.storage().locationUri()
        entries[str(table)] = _Entry(
            location=str(location.get().toString()) if location.isDefined() else "",
            has_columns=entry.schema().nonEmpty(),
        )
    return entries


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


def register_lake(
    spark: SparkSession, lake: str, databases: Iterable[str] | None = None
) -> list[str]:
    """Make `<db>.<table>` point at every Delta table of `lake` (or of the given `databases`);
    return the names, sorted.

    Idempotent: tables already registered at the same location are left alone (apart from
    getting their columns if the entry has none); entries that point at another lake are
    re-pointed (the tables are external, so no data is touched).
    New data in an existing table needs nothing (Delta reads the latest version per query);
    tables created after this call need another call.
    """
    wanted = None if databases is None else set(databases)
    names = []
    known: dict[str, dict[str, _Entry]] = {}
    for found in find_tables(spark, lake):
        if wanted is not None and found.database not in wanted:
            continue
        if found.database not in known:
            if not spark.catalog.databaseExists(found.database):
                location = f"{normalize_lake(lake)}/curated/{found.database}"
                spark.sql(f"CREATE DATABASE {found.database} LOCATION {string_literal(location)}")
            known[found.database] = _registered(spark, found.database)
        registered = known[found.database].get(found.table)
        if registered is None or not _same(registered.location, found.location):
            if registered is not None:
                spark.sql(f"DROP TABLE {found.name}")
            spark.sql(
                f"CREATE TABLE {found.name} USING DELTA LOCATION {string_literal(found.location)}"
            )
            # Keep lakejobs.tables' per-process registration cache truthful for later writes.
            _tables._REGISTERED.pop(found.name, None)
            _store_columns(spark, found)
        elif not registered.has_columns:
            _store_columns(spark, found)
        names.append(found.name)
    return names


def _same(a: str, b: str) -> bool:
    return _strip_scheme(a).rstrip("/") == _strip_scheme(b).rstrip("/")
