"""Contracts kept as files in a schemas folder: raw sources and curated tables, loaded as frozen
specs.

The JSON files are the single source of truth; these classes only parse and validate them, so a
typo in a contract fails at load time with the file name, never halfway through a job. The folder
is `Settings.schemas_dir` (by default the jobs package's `schemas/` data, see `schemas_dir`); the
loaders cache per folder, so two folders never see each other's contracts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakejobs.config import Settings, default_schemas_dir
from lakejobs.errors import ConfigError, UsageError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
RAW_TYPES = ("string", "int", "bigint", "double", "date")
# Encodings a raw source may declare: contract name -> (Java charset for Spark, Python codec for
# reading the header on the driver). Korean school systems and Excel export CP949 by default.
ENCODINGS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "utf-8": ("UTF-8", "utf-8"),
        "utf-16": ("UTF-16", "utf-16-be"),  # without a BOM both read big-endian
        "utf-16le": ("UTF-16LE", "utf-16-le"),
        "utf-16be": ("UTF-16BE", "utf-16-be"),
        "cp949": ("x-windows-949", "cp949"),
        "euc-kr": ("EUC-KR", "euc_kr"),
        "iso-8859-1": ("ISO-8859-1", "latin-1"),
    }
)


def schemas_dir(settings: Settings | None = None) -> Path:
    """The contracts folder (raw/, tables/, expectations/, grading_schemes.json): the settings'
    `schemas_dir`, or without settings the default one (`config.default_schemas_dir`)."""
    return settings.schemas_dir if settings is not None else default_schemas_dir()


def check_identifier(name: str, what: str) -> str:
    """Reject names that could reach a path or SQL text unless they are plain identifiers."""
    if not _IDENTIFIER.match(name):
        raise UsageError(f"invalid {what} {name!r}: use lowercase letters, digits and _")
    return name


_SIMPLE_TYPES: Mapping[str, DataType] = MappingProxyType(
    {
        "string": StringType(),
        "int": IntegerType(),
        "bigint": LongType(),
        "double": DoubleType(),
        "date": DateType(),
        "timestamp": TimestampType(),
        "boolean": BooleanType(),
    }
)


def parse_type(text: str) -> DataType:
    """Parse the contract type syntax (Spark DDL subset) without needing a running JVM."""
    text = text.strip().lower()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    if match := re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", text):
        return DecimalType(int(match[1]), int(match[2]))
    if text.startswith("array<") and text.endswith(">"):
        return ArrayType(parse_type(text[6:-1]))
    if text.startswith("map<") and text.endswith(">"):
        key, value = text[4:-1].split(",", 1)
        return MapType(parse_type(key), parse_type(value))
    raise UsageError(f"unsupported column type {text!r} in a table contract")


def load_json_file(path: Path, what: str = "contract") -> dict[str, Any]:
    """The JSON object in a contract file; a `ConfigError` naming the file if it is missing,
    not JSON, or not an object."""
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        data: object = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {what} is a JSON object, got {type(data).__name__}")
    return data


@contextmanager
def naming_file(path: Path) -> Iterator[None]:
    """Errors while building a contract from `path` name the file, and the key when one is missing."""
    try:
        yield
    except ConfigError:
        raise
    except UsageError as exc:  # a bad value: the message says which
        raise ConfigError(f"{path}: {exc}") from None
    except KeyError as exc:
        raise ConfigError(f"{path}: missing key {exc.args[0]!r}") from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{path}: malformed contract: {exc}") from None


@dataclass(frozen=True)
class RawColumn:
    name: str
    type: str
    required: bool


@dataclass(frozen=True)
class RawSource:
    """A raw source in the lake: file format and the columns expected in each file's header."""

    source: str
    format: str
    columns: tuple[RawColumn, ...]
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        check_identifier(self.source, "raw source")
        if self.encoding not in ENCODINGS:
            raise UsageError(
                f"raw source {self.source}: unknown encoding {self.encoding!r} "
                f"(use one of {', '.join(ENCODINGS)})"
            )
        for column in self.columns:
            check_identifier(column.name, f"column of raw source {self.source}")
            if column.type not in RAW_TYPES:
                raise UsageError(
                    f"raw source {self.source}: column {column.name} has unsupported type "
                    f"{column.type!r} (use one of {', '.join(RAW_TYPES)})"
                )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def charset(self) -> str:
        """The declared encoding as a Java charset name (what Spark's readers take)."""
        return ENCODINGS[self.encoding][0]


def raw_source(source: str, schemas: Path | None = None) -> RawSource:
    """Load `raw/<source>.json` of `schemas` (default: `schemas_dir()`)."""
    return _raw_source(schemas or schemas_dir(), check_identifier(source, "raw source"))


@cache
def _raw_source(schemas: Path, source: str) -> RawSource:
    path = schemas / "raw" / f"{source}.json"
    data = load_json_file(path)
    with naming_file(path):
        return RawSource(
            source=data["source"],
            format=data.get("format", "csv"),
            columns=tuple(
                RawColumn(c["name"], c["type"], bool(c.get("required", True)))
                for c in data["columns"]
            ),
            encoding=str(data.get("encoding", "utf-8")).lower(),
        )


@dataclass(frozen=True)
class TableContract:
    """A curated Delta table: its name, typed columns, partitioning and primary key.

    `stats_columns` names the columns Delta keeps per-file min/max statistics for (data skipping).
    Empty means Delta's default (the first 32 columns); large tables name the columns queries
    filter on, because collecting statistics on every column is a large share of write time.
    """

    name: str
    schema: StructType
    partition_by: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    description: str = ""
    stats_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = self.name.split(".")
        if len(parts) != 2:
            raise UsageError(f"table name {self.name!r} must be <database>.<table>")
        for part in parts:
            check_identifier(part, "table name part")
        named = (*self.partition_by, *self.primary_key, *self.stats_columns)
        missing = [c for c in named if c not in self.columns]
        if missing:
            raise UsageError(f"table {self.name}: unknown key/partition/stats column(s) {missing}")

    @property
    def database(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.fieldNames())


def table_contract(name: str, schemas: Path | None = None) -> TableContract:
    """Load `tables/<db>.<table>.json` of `schemas` (default: `schemas_dir()`)."""
    if not re.match(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$", name):
        raise UsageError(f"invalid table name {name!r}: expected <database>.<table>")
    return _table_contract(schemas or schemas_dir(), name)


@cache
def _table_contract(schemas: Path, name: str) -> TableContract:
    path = schemas / "tables" / f"{name}.json"
    data = load_json_file(path)
    with naming_file(path):
        fields = [
            StructField(
                c["name"],
                parse_type(c["type"]),
                nullable=bool(c.get("nullable", True)),
                metadata={"comment": c["comment"]} if c.get("comment") else {},
            )
            for c in data["columns"]
        ]
        return TableContract(
            name=data["name"],
            schema=StructType(fields),
            partition_by=tuple(data.get("partition_by", ())),
            primary_key=tuple(data.get("primary_key", ())),
            description=data.get("description", ""),
            stats_columns=tuple(data.get("stats_columns", ())),
        )


def all_table_contracts(schemas: Path | None = None) -> list[TableContract]:
    """Every curated table contract in `tables/` of `schemas` (default: `schemas_dir()`)."""
    folder = schemas or schemas_dir()
    return [table_contract(p.stem, folder) for p in sorted((folder / "tables").glob("*.json"))]
