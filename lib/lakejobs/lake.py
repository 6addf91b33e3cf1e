"""The raw side of the lake: where files are, and reading them by header name with nothing lost.

Layout: `<lake>/raw/<source>/ingest_date=YYYY-MM-DD/*.csv[.gz]`. Every file's own header decides
which field is which, so a file whose columns come in another order is never misread. Each data
line becomes exactly one row carrying its raw text, its source file and any parse problems; blank
lines and header lines are the only lines not counted as data.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakejobs.contracts import RawSource
from lakejobs.errors import DataQualityError, UsageError

RAW_FILE_SUFFIXES = (".csv", ".csv.gz")
BOM = "\ufeff"
SOURCE_FILE = "_source_file"
RAW_RECORD = "_raw_record"
MALFORMED = "_malformed"


def parse_date(text: str, what: str = "--date") -> date:
    """Parse a strict YYYY-MM-DD date; anything else is a one-line `UsageError`."""
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"invalid {what} {text!r}: expected a date as YYYY-MM-DD") from None


@dataclass(frozen=True)
class LakeLayout:
    """Paths inside one lake root (a `file:`, `hdfs://` or `s3a://` URI)."""

    root: str

    def raw_dir(self, source: str, ingest_date: date) -> str:
        return f"{self.root}/raw/{source}/ingest_date={ingest_date.isoformat()}"

    def curated_dir(self, database: str, table: str) -> str:
        return f"{self.root}/curated/{database}/{table}"


class HadoopFS:
    """The few filesystem calls the library needs, through Hadoop so hdfs:// and s3a:// work too."""

    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str):
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def exists(self, uri: str) -> bool:
        path = self._path(uri)
        return bool(path.getFileSystem(self._conf).exists(path))

    def list_files(self, uri: str) -> list[str]:
        """Files directly under `uri` (sorted), skipping hidden `_`/`.` names; [] if missing."""
        path = self._path(uri)
        fs = path.getFileSystem(self._conf)
        if not fs.exists(path):
            return []
        names = [str(status.getPath().toString()) for status in fs.listStatus(path)]
        return sorted(n for n in names if not n.rsplit("/", 1)[-1].startswith(("_", ".")))

    def list_file_status(self, uri: str) -> list[tuple[str, int, int]]:
        """(name, size, modification time) of the files directly under `uri`, sorted."""
        path = self._path(uri)
        fs = path.getFileSystem(self._conf)
        if not fs.exists(path):
            return []
        return sorted(
            (str(s.getPath().getName()), int(s.getLen()), int(s.getModificationTime()))
            for s in fs.listStatus(path)
            if s.isFile()
        )

    def first_line(self, uri: str) -> str:
        """The first line of a (possibly compressed) text file, decoded as UTF-8."""
        path = self._path(uri)
        stream = path.getFileSystem(self._conf).open(path)
        codec = self._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
            self._conf
        ).getCodec(path)
        if codec is not None:
            stream = codec.createInputStream(stream)
        reader = self._jvm.java.io.BufferedReader(
            self._jvm.java.io.InputStreamReader(stream, "UTF-8")
        )
        try:
            return reader.readLine() or ""
        finally:
            reader.close()


def parse_header(line: str) -> tuple[str, ...]:
    """Column names of a header line: BOM, quotes, blanks and case removed."""
    fields = next(csv.reader([line.removeprefix(BOM).rstrip("\r\n")]), [])
    return tuple(field.strip().lower() for field in fields)


def check_header(source: RawSource, file: str, header: tuple[str, ...]) -> None:
    """A file without every required column fails the run (a table-level problem)."""
    missing = [c for c in source.required if c not in header]
    if missing:
        raise DataQualityError(
            f"raw file {file} is missing required column(s) {', '.join(missing)} "
            f"(present: {', '.join(header) or 'none'})"
        )
    duplicated = sorted({c for c in header if header.count(c) > 1 and c in source.names})
    if duplicated:
        raise DataQualityError(f"raw file {file} repeats column(s) {', '.join(duplicated)}")


def _field_count(line: Column) -> Column:
    """Number of CSV fields in a line, counting commas outside double-quoted sections."""
    unquoted = F.regexp_replace(line, r'"([^"]|"")*"', "")
    return F.size(F.split(unquoted, ",", -1))


def _read_layout(
    spark: SparkSession, source: RawSource, files: list[str], header: tuple[str, ...]
) -> DataFrame:
    """Read files sharing one header layout into canonical string columns + bookkeeping."""
    line = F.regexp_replace(F.regexp_replace(F.col("value"), f"^{BOM}", ""), "\r$", "")
    record = F.col(RAW_RECORD)
    is_header = F.lower(F.regexp_replace(record, r'["\s]', "")) == ",".join(header)
    ddl = ", ".join(f"`_f{i}` STRING" for i in range(len(header)))
    options = {"ignoreLeadingWhiteSpace": "true", "ignoreTrailingWhiteSpace": "true"}
    columns = [
        (F.col(f"_fields._f{header.index(name)}") if name in header else F.lit(None))
        .cast("string")
        .alias(name)
        for name in source.names
    ]
    return (
        spark.read.text(files)
        .select(line.alias(RAW_RECORD), F.col("_metadata.file_path").alias(SOURCE_FILE))
        .where((F.trim(record) != "") & ~is_header)
        .withColumn("_fields", F.from_csv(record, ddl, options))
        .select(
            *columns,
            SOURCE_FILE,
            RAW_RECORD,
            (_field_count(record) != len(header)).alias(MALFORMED),
        )
    )


def read_raw_csv(spark: SparkSession, source: RawSource, directory: str) -> DataFrame:
    """All data lines of a raw CSV delivery, as canonical string columns plus bookkeeping.

    Columns: the source's columns (strings, null when empty or absent), `_source_file`,
    `_raw_record` (the line without BOM/CR) and `_malformed` (wrong number of fields).
    Raises `DataQualityError` when the delivery is missing or a file lacks a required column.
    """
    fs = HadoopFS(spark)
    files = [f for f in fs.list_files(directory) if f.endswith(RAW_FILE_SUFFIXES)]
    if not files:
        raise DataQualityError(f"no raw {source.source} files (*.csv, *.csv.gz) in {directory}")
    layouts: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for file in files:
        header = parse_header(fs.first_line(file))
        check_header(source, file, header)
        layouts[header].append(file)
    frames = [_read_layout(spark, source, group, header) for header, group in layouts.items()]
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result
