"""`lakejobs sql` and `lakejobs shell`: the library's SparkSession with the lake's tables by name.

Why a private catalog: embedded Derby admits one JVM at a time and the nightly jobs hold
`<lake>/_metastore` while they run, so a query session keeps Spark's in-memory catalog of its own
and registers every Delta table of the lake by name in it (`lakejobs.catalog.register_lake`).
Shared metastores (`hive`, `glue`) are kept. The Delta logs in the lake stay the single source of truth.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import TYPE_CHECKING, Any

from lakejobs.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FORMATS = ("table", "csv", "json")
TABLE_ROWS_SHOWN = 1000


def query_settings(settings: Settings) -> Settings:
    """Pure: the settings of a query session: no Spark UI port to fight over, and instead of the
    lake's embedded Derby, Spark's in-memory catalog (no Hive metastore to create at every start:
    the tables are registered again from the lake each time anyway)."""
    if settings.metastore != "derby":
        return dataclasses.replace(
            settings, spark_conf={"spark.ui.enabled": "false", **settings.spark_conf}
        )
    conf = {
        "spark.ui.enabled": "false",
        **settings.spark_conf,
        "spark.sql.catalogImplementation": "in-memory",
    }
    return dataclasses.replace(settings, metastore="derby-memory", spark_conf=conf)


def query_session(settings: Settings) -> tuple[SparkSession, list[str]]:
    """A session with Delta and every curated table registered; returns it and the names."""
    from lakejobs.catalog import register_lake
    from lakejobs.session import build_session

    spark = build_session(query_settings(settings), app_name="lakejobs-sql")
    return spark, register_lake(spark, settings.lake)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_rows(
    columns: list[str], rows: list[tuple[Any, ...]], fmt: str, truncated: bool = False
) -> str:
    """Pure: query rows as csv, JSON (a list of objects) or an aligned text table."""
    if fmt == "csv":
        import csv

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        return buffer.getvalue()
    if fmt == "json":
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        return json.dumps(records, indent=2, default=str) + "\n"
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    buffer = io.StringIO()
    Console(file=buffer, width=200, no_color=True).print(table)
    shown = f"first {len(rows):,} rows shown" if truncated else f"{len(rows):,} rows"
    return buffer.getvalue() + f"({shown})\n"


def collect(frame: DataFrame, fmt: str) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """The rows to print: all of them for csv/json, the first TABLE_ROWS_SHOWN for a table."""
    if fmt == "table":
        rows = [tuple(r) for r in frame.limit(TABLE_ROWS_SHOWN + 1).collect()]
        return frame.columns, rows[:TABLE_ROWS_SHOWN], len(rows) > TABLE_ROWS_SHOWN
    return frame.columns, [tuple(r) for r in frame.collect()], False


def run_sql(settings: Settings, query: str, fmt: str) -> str:
    """Run one query against the lake's tables and return its formatted answer."""
    spark, _ = query_session(settings)
    columns, rows, truncated = collect(spark.sql(query), fmt)
    return format_rows(columns, rows, fmt, truncated)


BANNER = (
    "lakejobs shell: `spark` is the library's SparkSession (Delta, the lake's tables by name).\n"
    "Tables: {tables}\n"
    'Try: spark.sql("SELECT subject, grade, count(*) FROM exams.grades GROUP BY 1, 2 ORDER BY 1, 2").show()'
)


def interact(settings: Settings) -> None:
    """An interactive Python (IPython when installed) with `spark` and the tables ready."""
    spark, names = query_session(settings)
    namespace = {"spark": spark, "settings": settings}
    banner = BANNER.format(tables=", ".join(names) or "none yet")
    try:
        from IPython import start_ipython
    except ImportError:
        import code

        code.interact(banner=banner, local=namespace, exitmsg="")
        return
    print(banner, flush=True)
    start_ipython(argv=["--no-banner", "--no-confirm-exit"], user_ns=namespace)
