"""Raw JSON-lines deliveries read with an explicit schema and nothing lost.

Every non-blank line of `*.jsonl[.gz]` / `*.json[.gz]` files becomes exactly one row carrying the
schema's fields (null when a key is absent), the raw line and its file, and `_malformed` when the
line is not a JSON object (truncated, an array, a scalar). Declare fields as strings to keep
typing decisions (and `bad_type:` reasons) with the caller: Spark renders numbers and nested
objects of a string field as their JSON text, while a value that does not fit a non-string field
marks the whole line malformed.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakejobs.errors import DataQualityError, UsageError
from lakejobs.lake import BOM, MALFORMED, RAW_RECORD, SOURCE_FILE, HadoopFS

JSON_LINES_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
_CORRUPT = "_corrupt_record"
_PARSED = "_parsed"


def read_raw_json_lines(spark: SparkSession, directory: str, schema: StructType) -> DataFrame:
    """All non-blank lines of a JSON-lines delivery: the schema's fields plus bookkeeping.

    Columns: the schema's fields in order, `_source_file`, `_raw_record` (the line without BOM
    and CR) and `_malformed`. Raises `DataQualityError` when the folder has no JSON-lines file.
    """
    clash = [f.name for f in schema.fields if f.name.startswith("_")]
    if clash:
        raise UsageError(f"JSON schema field names must not start with '_': {', '.join(clash)}")
    files = [f for f in HadoopFS(spark).list_files(directory) if f.endswith(JSON_LINES_SUFFIXES)]
    if not files:
        raise DataQualityError(
            f"no JSON-lines files ({', '.join('*' + s for s in JSON_LINES_SUFFIXES)}) "
            f"in {directory}"
        )
    with_corrupt = StructType([*schema.fields, StructField(_CORRUPT, StringType())])
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}
    line = F.regexp_replace(F.regexp_replace(F.col("value"), f"^{BOM}", ""), "\r$", "")
    record = F.col(RAW_RECORD)
    return (
        spark.read.text(files)
        .select(line.alias(RAW_RECORD), F.col("_metadata.file_path").alias(SOURCE_FILE))
        .where(F.trim(record) != "")
        .withColumn(_PARSED, F.from_json(record, with_corrupt, options))
        .select(
            *[F.col(f"{_PARSED}.`{f.name}`").alias(f.name) for f in schema.fields],
            SOURCE_FILE,
            RAW_RECORD,
            (F.col(_PARSED).isNull() | F.col(f"{_PARSED}.{_CORRUPT}").isNotNull()).alias(MALFORMED),
        )
    )
