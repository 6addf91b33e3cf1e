"""Expectation suites (expectations/*.json of the schemas folder) applied at scale.

Row-level rules (`expect_column_values_*`) compile to Spark column expressions evaluated in one
projection: every row gets a `_reasons` array, empty when the row is good, so good rows and the
quarantine come out of the same pass with no per-row work on the driver. Before the rules, values
are read strictly: numbers by a plain decimal grammar, text without control characters, nothing
that did not decode (U+FFFD), and key columns normalised by one rule (see `normalize_key`) and
checked against what the table layer can store. Table-level rules are
then validated by great-expectations on the whole batch (SUMMARY result format) before anything
is written; a failure raises `DataQualityError` with a one-line reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from lakejobs.contracts import (
    RawSource,
    check_identifier,
    load_json_file,
    naming_file,
    schemas_dir,
)
from lakejobs.errors import ConfigError, DataQualityError, UsageError
from lakejobs.lake import ASCII_BLANKS, BLANKS, MALFORMED

REASONS = "_reasons"
QUARANTINED = "_quarantined"
ROW_LEVEL_PREFIX = "expect_column_values_"
SUPPORTED_ROW_RULES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
)
# Plain decimal numbers: optional sign, digits with an optional fraction (or a fraction alone),
# optional exponent. Not Java's grammar: no 7d/90f suffixes, hex, NaN, Infinity or 1,000.
DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
INTEGER = r"^[+-]?[0-9]+$"
# Control characters in text: C0 except TAB/LF/CR (text may span lines), DEL and C1. Key
# values may hold none at all, nor a path separator.
TEXT_CONTROLS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
KEY_CONTROLS = r"[\x00-\x1F\x7F-\x9F]"
PATH_SEPARATORS = ("/", "\\")
REPLACEMENT = "\ufffd"
# Invisible format characters removed from keys wherever they are (zero-width space, joiners,
# word joiner, BOM, soft hyphen, direction marks, Mongolian vowel separator).
INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
# A partition directory is `<column>=<value>` with these characters %XX-escaped; file systems
# cap a name at 255 bytes, so a key value may take at most 200 bytes once escaped.
PATH_ESCAPED = "\"#%'*:=?[]^{"
KEY_MAX_BYTES = 200


@dataclass(frozen=True)
class Expectation:
    type: str
    kwargs: Mapping[str, Any]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def row_level(self) -> bool:
        return self.type.startswith(ROW_LEVEL_PREFIX)


@dataclass(frozen=True)
class Suite:
    """An expectation suite file, split into row-level and table-level rules."""

    name: str
    expectations: tuple[Expectation, ...]

    def __post_init__(self) -> None:
        for rule in self.row_rules:
            if rule.type not in SUPPORTED_ROW_RULES:
                raise UsageError(
                    f"suite {self.name}: row-level rule {rule.type} is not supported "
                    f"(supported: {', '.join(SUPPORTED_ROW_RULES)})"
                )

    @property
    def row_rules(self) -> tuple[Expectation, ...]:
        return tuple(e for e in self.expectations if e.row_level)

    @property
    def table_rules(self) -> tuple[Expectation, ...]:
        return tuple(e for e in self.expectations if not e.row_level)


def suite_path(name: str, schemas: Path | None = None) -> Path:
    """`expectations/<name>.json` of `schemas` (default: `contracts.schemas_dir()`)."""
    return (schemas or schemas_dir()) / "expectations" / f"{name}.json"


def load_suite(name: str, schemas: Path | None = None) -> Suite:
    """Load `expectations/<name>.json` of `schemas` (great-expectations 1.x suite format); a
    broken file is a `ConfigError` naming it (and the key when one is missing)."""
    return _load_suite(schemas or schemas_dir(), name)


@cache
def _load_suite(schemas: Path, name: str) -> Suite:
    path = suite_path(name, schemas)
    data = load_json_file(path, what="expectation suite")
    with naming_file(path):
        return Suite(
            name=data["name"],
            expectations=tuple(
                Expectation(e["type"], dict(e.get("kwargs", {})), dict(e.get("meta", {})))
                for e in data["expectations"]
            ),
        )


def normalize_key(value: Column) -> Column:
    """The one key rule: Unicode NFKC, invisible format characters removed anywhere, Unicode
    whitespace (NBSP, ideographic space, ...) trimmed at both ends; empty becomes null.

    So `S001`, `S001<NBSP>`, `S<ZWSP>001` and its full-width form are one student. NFKC is ICU's
    (Spark's own dependency), called in the JVM through `reflect`: no Python UDF. ASCII text is
    its own NFKC form and has no invisible characters, so only non-ASCII values pay for it.
    """
    non_ascii = F.octet_length(value) != F.length(value)
    nfkc = F.reflect(F.lit("com.ibm.icu.text.Normalizer"), F.lit("compose"), value, F.lit(True))
    normalized = F.when(
        non_ascii, F.btrim(F.translate(nfkc, INVISIBLE, ""), F.lit(BLANKS))
    ).otherwise(F.btrim(value, F.lit(ASCII_BLANKS)))
    return F.nullif(normalized, F.lit(""))


def key_unstorable(value: Column) -> Column:
    """True for a (normalized) key value the table layer cannot store as a partition directory
    or path: more than `KEY_MAX_BYTES` bytes once escaped, `/` or `\\`, or `.` / `..` (control
    characters are `bad_text`). Checked before any write, never discovered by a failed MERGE.
    """
    size = F.octet_length(value)
    escaped = F.length(value) - F.length(F.translate(value, PATH_ESCAPED, ""))
    # Escaping at most triples a value, so only a value of over a third of the cap is counted.
    too_long = (size > KEY_MAX_BYTES // 3) & (size + 2 * escaped > KEY_MAX_BYTES)
    separator = _any([value.contains(c) for c in PATH_SEPARATORS])
    return value.isNotNull() & (too_long | separator | value.isin(".", ".."))


def _typed(raw: Column, type_name: str) -> Column:
    """A trimmed raw string as the contract type; null when it does not parse strictly."""
    if type_name == "string":
        return raw
    if type_name == "date":
        return F.try_to_date(raw, "yyyy-MM-dd")
    if type_name == "double":
        number = F.when(raw.rlike(DECIMAL), raw.try_cast("double"))
        # -0 is stored as 0; an exponent beyond double range (1e999) is not a number.
        return F.when(number == 0, F.lit(0.0)).when(F.abs(number) != F.lit(float("inf")), number)
    return F.when(raw.rlike(INTEGER), raw.try_cast(type_name))


def _rule_violation(rule: Expectation, value: Column, row: DataFrame) -> tuple[str, Column]:
    """(reason, condition true when the row breaks the rule) for one row-level expectation."""
    column = rule.kwargs["column"]
    if rule.type == "expect_column_values_to_not_be_null":
        return f"null:{column}", value.isNull()
    if rule.type == "expect_column_values_to_be_between":
        low, high = rule.kwargs.get("min_value"), rule.kwargs.get("max_value")
        high_column = rule.meta.get("max_value_column")
        upper = F.lit(high) if high is not None else None
        if high_column:
            check_identifier(high_column, "max_value_column")
            upper = F.coalesce(row[high_column], upper) if upper is not None else row[high_column]
        broken = F.lit(False)
        if low is not None:
            broken = broken | (value < F.lit(low))
        if upper is not None:
            broken = broken | (value > upper)
        return f"out_of_range:{column}", value.isNotNull() & broken
    if rule.type == "expect_column_values_to_be_in_set":
        return f"not_in_set:{column}", value.isNotNull() & ~value.isin(
            list(rule.kwargs["value_set"])
        )
    return f"bad_format:{column}", value.isNotNull() & ~value.rlike(rule.kwargs["regex"])


def validate_rows(
    raw: DataFrame, source: RawSource, suite: Suite, keys: tuple[str, ...] = ()
) -> DataFrame:
    """Type the raw string columns and add `_reasons` and `_quarantined` in one projection.

    `keys` names the target table's key and partition columns: string ones are normalised by
    `normalize_key` (the stored value) before deduplication. Reasons: `malformed` (wrong field
    count; nothing else is checked on such a record), `bad_encoding` (a value that did not
    decode: U+FFFD), `bad_type:<col>` (not a plain number / date), `bad_text:<col>` (a control
    character), `bad_key:<col>` (a key the table cannot store), and one per broken row rule
    (`null:<col>`, `out_of_range:<col>`, ...). A good row has an empty array.
    """
    text = {c.name for c in source.columns if c.type == "string"}
    key_text = text.intersection(keys)

    def clean(name: str) -> Column:
        if name in key_text:
            return normalize_key(F.col(name))
        return F.nullif(F.trim(F.col(name)), F.lit(""))

    decodable = [
        F.col(c).contains(REPLACEMENT)
        for c in source.names
        if isinstance(raw.schema[c].dataType, StringType)
    ]
    typed = raw.select(
        *[_typed(clean(c.name), c.type).alias(c.name) for c in source.columns],
        *[clean(c).alias(f"_raw_{c}") for c in source.names],
        *[c for c in raw.columns if c.startswith("_")],
        (F.lit(False) if not decodable else _any(decodable)).alias("_bad_encoding"),
    )
    checks: list[Column] = [F.when(typed["_bad_encoding"], F.lit("bad_encoding"))]
    for column in source.columns:
        value = typed[column.name]
        if column.type != "string":
            raw_value = typed[f"_raw_{column.name}"]
            checks.append(
                F.when(raw_value.isNotNull() & value.isNull(), F.lit(f"bad_type:{column.name}"))
            )
        elif column.name in key_text:
            checks.append(F.when(value.rlike(KEY_CONTROLS), F.lit(f"bad_text:{column.name}")))
            checks.append(F.when(key_unstorable(value), F.lit(f"bad_key:{column.name}")))
        else:
            checks.append(F.when(value.rlike(TEXT_CONTROLS), F.lit(f"bad_text:{column.name}")))
    for rule in suite.row_rules:
        reason, broken = _rule_violation(rule, typed[rule.kwargs["column"]], typed)
        if rule.type == "expect_column_values_to_not_be_null":
            broken = broken & typed[f"_raw_{rule.kwargs['column']}"].isNull()
        checks.append(F.when(broken, F.lit(reason)))
    # array_except rather than array_compact: the latter is a lambda function, which Spark
    # evaluates row by row outside generated code, and with it every check of the array.
    no_reason = F.array(F.lit(None).cast("string"))
    reasons = F.when(F.col(MALFORMED), F.array(F.lit("malformed"))).otherwise(
        F.array_except(F.array(*checks), no_reason)
    )
    return (
        typed.withColumn(REASONS, reasons)
        .withColumn(QUARANTINED, (F.size(REASONS) > 0).cast("int"))
        .drop("_bad_encoding", *[f"_raw_{c}" for c in source.names])
    )


def _any(conditions: list[Column]) -> Column:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result | condition
    return result


def _gx_expectation(suite: Suite, rule: Expectation, max_quarantine_share: float) -> Any:
    import great_expectations as gx

    kwargs = dict(rule.kwargs)
    if rule.meta.get("rule") == "quarantine_share" and kwargs.get("max_value") is None:
        kwargs["max_value"] = max_quarantine_share
    class_name = "".join(part.title() for part in rule.type.split("_"))
    expectation_class = getattr(gx.expectations, class_name, None)
    if expectation_class is None:
        raise ConfigError(
            f"{suite_path(suite.name)}: unknown great-expectations expectation {rule.type}"
        )
    return expectation_class(**kwargs, meta=dict(rule.meta))


def _describe_failure(result: Any) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",) and v is not None}
    observed = result.result.get("observed_value")
    label = (config.meta or {}).get("rule", "")
    detail = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    suffix = f" [{label}]" if label else ""
    return f"{config.type}({detail}) observed {observed}{suffix}"


def validate_table(df: DataFrame, suite: Suite, max_quarantine_share: float) -> None:
    """Run the suite's table-level rules with great-expectations; raise on any failure.

    `df` is the whole validated batch, quarantined rows included (column `_quarantined`), so the
    quarantine share is a plain column mean.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if not suite.table_rules:
        return
    context = gx.get_context(mode="ephemeral")
    # GX's per-metric progress bars would drown the job log; Spark shows its own progress.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_spark(name="lakejobs")
        .add_dataframe_asset(name=suite.name)
        .add_batch_definition_whole_dataframe("batch")
        .get_batch(batch_parameters={"dataframe": df})
    )
    gx_suite = gx.ExpectationSuite(
        name=suite.name,
        expectations=[_gx_expectation(suite, r, max_quarantine_share) for r in suite.table_rules],
    )
    result = batch.validate(gx_suite, result_format="SUMMARY")
    failures = [_describe_failure(r) for r in result.results if not r.success]
    if failures:
        raise DataQualityError(
            f"{suite.name}: table-level expectation failed, nothing written: {'; '.join(failures)}"
        )
