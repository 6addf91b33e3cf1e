"""Writes to curated Delta tables: one atomic commit per call, in the write modes jobs declare.

`TableWriter` conforms a DataFrame to its table's contract, makes one commit (replace a slice,
append, MERGE on the primary key) and returns the `Commit` it made, found by its tag
(`lakejobs.commits`). `roll_back` restores exactly what a failed run committed. Where tables live,
their creation and registration are the `Catalog`'s (`lakejobs.catalog`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from lakejobs.catalog import Catalog
from lakejobs.commits import (
    Commit,
    commit_of,
    described,
    new_tag,
    retry_on_conflict,
    run_tag_prefix,
    user_metadata,
)
from lakejobs.contracts import TableContract
from lakejobs.errors import SchemaDriftError

_DROP = "_lakejobs_drop"


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


class TableWriter:
    """Writes to the tables of one `Catalog`; every write first ensures its table."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.spark = catalog.spark

    def _commit(self, contract: TableContract, step: str, write: Callable[[], object]) -> Commit:
        """Run `write` (retried on commit conflicts) and return the commit it made, found by tag.

        Each write's commit carries a unique tag in its `userMetadata`, so the commit returned is
        the one this write made even when other processes commit to the table meanwhile; a write
        that Delta turned into no commit at all (nothing to change) returns `Commit.none`.
        """
        before = self.catalog.version(contract)
        tag = new_tag(self.spark)

        def attempt() -> None:
            with described(self.spark, step), user_metadata(self.spark, tag):
                write()

        retry_on_conflict(attempt, contract.name)
        return self._tagged(contract, before, tag) or Commit.none(contract.name)

    def _tagged(self, contract: TableContract, before: int | None, tag: str) -> Commit | None:
        for row in self.catalog.history_since(contract, before):
            if row["userMetadata"] == tag:
                return commit_of(contract.name, row)
        return None

    def replace_where(self, contract: TableContract, df: DataFrame, predicate: str) -> Commit:
        """Atomically replace the rows matching `predicate` with `df` (Delta `replaceWhere`).

        Delta checks that every written row satisfies the predicate, so a bug cannot spill
        rows outside the slice being replaced.
        """
        self.catalog.ensure(contract)
        return self._commit(
            contract,
            f"write {contract.name}",
            lambda: (
                conform(df, contract)
                .write.format("delta")
                .mode("overwrite")
                .option("replaceWhere", predicate)
                .save(self.catalog.location(contract))
            ),
        )

    def append(self, contract: TableContract, df: DataFrame) -> Commit:
        self.catalog.ensure(contract)
        return self._commit(
            contract,
            f"write {contract.name}",
            lambda: (
                conform(df, contract)
                .write.format("delta")
                .mode("append")
                .save(self.catalog.location(contract))
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
        self.catalog.ensure(contract)
        keys = contract.primary_key
        source = conform(df, contract)
        # Tombstones only when the table holds rows of `owned` (not on a first delivery).
        tombstones = owned is not None and self._holds_rows(contract, F.expr(owned))
        if owned is not None and tombstones:
            withdrawn = (
                self.spark.read.format("delta")
                .load(self.catalog.location(contract))
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
                    DeltaTable.forPath(self.spark, self.catalog.location(contract))
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
        table = self.spark.read.format("delta").load(self.catalog.location(contract)).alias("t")
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
        mine = run_tag_prefix(run_id)
        for contract in contracts:
            if not self.catalog.exists(contract):
                continue
            since = self.catalog.history_since(contract, before.get(contract.name))[
                ::-1
            ]  # oldest first
            tags = [row["userMetadata"] or "" for row in since]
            first = next((i for i, tag in enumerate(tags) if tag.startswith(mine)), None)
            if first is None or any(not tag.startswith(mine) for tag in tags[first:]):
                continue
            target = int(since[first]["version"]) - 1
            table = DeltaTable.forPath(self.spark, self.catalog.location(contract))
            restore = functools.partial(table.restoreToVersion, target)
            self._commit(contract, f"roll back {contract.name}", restore)
            restored[contract.name] = target
        return restored
