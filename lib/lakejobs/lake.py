"""The raw side of the lake: where files are, and reading them as CSV by header name, nothing lost.

Layout: `<lake>/raw/<source>/ingest_date=YYYY-MM-DD/*.csv[.gz]`. Files are parsed by Spark's own
CSV reader as RFC 4180 (quoted commas, doubled quotes and line breaks inside quotes), so one record
is one row whatever its line count; a record with the wrong number of fields is `_malformed`.
Every file's own header decides which field is which, so a file whose columns come in another
order is never misread; files are read in groups sharing a header layout and an encoding.

Encoding: the raw contract's (`utf-8` by default), unless a file starts with a UTF-8 or UTF-16
byte-order mark, which decides for that file. Bytes that are not valid in it decode to U+FFFD,
which `quality.validate_rows` quarantines as `bad_encoding`; the original bytes of such a record
are gone after decoding, so the quarantine shows the decoded text with U+FFFD where they were.

Quarantine text (`_raw_record`): for a malformed record, the record's text as the parser saw it;
for a record that parses, the CSV text of its parsed fields (Spark's `to_csv`, RFC quoting), which
is the same record but not always the same bytes (quoting may differ). Control characters other
than TAB/LF/CR are shown as Unicode control pictures (NUL as U+2400) so they stay visible.
Blank lines and header lines (the file's own and repeated ones) are the only records not data.
A compressed file is decompressed once on the driver before anything is read, so a truncated
archive fails the delivery with one line naming it, before any write.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lakejobs.contracts import ENCODINGS, RawSource
from lakejobs.errors import DataQualityError, UsageError
from lakejobs.session import driver_jvm

RAW_FILE_SUFFIXES = (".csv", ".csv.gz")
BOM = "\ufeff"
SOURCE_FILE = "_source_file"
RAW_RECORD = "_raw_record"
MALFORMED = "_malformed"
_CORRUPT = "_corrupt_record"
HEAD_BYTES = 1 << 16
# Byte-order marks decide a file's encoding: (mark, Java charset, Python codec after the mark).
BOMS = (
    (b"\xef\xbb\xbf", "UTF-8", "utf-8"),
    (b"\xff\xfe", "UTF-16", "utf-16-le"),
    (b"\xfe\xff", "UTF-16", "utf-16-be"),
)
# Spark 4 accepts only these charsets unless spark.sql.legacy.javaCharsets is set.
SPARK_CHARSETS = ("UTF-8", "UTF-16", "UTF-16LE", "UTF-16BE", "ISO-8859-1", "US-ASCII", "UTF-32")
# Unicode White_Space plus BOM: what a blank line or a header field may be padded with.
BLANKS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
BLANKS += "\u2028\u2029\u202f\u205f\u3000\ufeff"
# The ASCII ones: all an ASCII value can be padded with. Spark's trim compares every end character
# with every trim character, so the short set is what ASCII values (nearly all) are trimmed by.
ASCII_BLANKS = "".join(c for c in BLANKS if c.isascii())
# Control characters other than TAB/LF/CR, and the visible Unicode control pictures shown instead.
CONTROLS = "".join(map(chr, (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)))
PICTURES = "".join(chr(0x2400 + (ord(c) if c != "\x7f" else 0x21)) for c in CONTROLS)
CONTROL_CLASS = "[" + "".join(f"\\x{ord(c):02X}" for c in CONTROLS) + "]"
# RFC 4180 records. The header is dropped by value (like a repeated header), not by `header`.
# lineSep is LF rather than detected: detection trusts the first line, and a file mixing CRLF
# and LF would have its LF lines merged; a CRLF record's CR is removed from its last field.
CSV_OPTIONS = {
    "header": "false",
    "multiLine": "true",
    "lineSep": "\n",
    "quote": '"',
    "escape": '"',
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": _CORRUPT,
}
# The record text of a parsed record: RFC quoting, blanks kept as they came.
WRITE_OPTIONS = {
    "quote": '"',
    "escape": '"',
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
}


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
        self._jvm = driver_jvm(spark)
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> Any:
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

    def head(self, uri: str, size: int) -> tuple[bytes, bool]:
        """(the first `size` bytes of a file, decompressed; whether that is the whole file).

        A compressed file is then decompressed to the end in the JVM, so a truncated or corrupt
        archive fails here, on the driver, before any job has read or written anything.
        """
        path = self._path(uri)
        fs = path.getFileSystem(self._conf)
        codec = self._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(
            self._conf
        ).getCodec(path)
        stream = fs.open(path)
        try:
            if codec is None:
                return bytes(stream.readNBytes(size)), fs.getFileStatus(path).getLen() <= size
            stream = codec.createInputStream(stream)
            data = bytes(stream.readNBytes(size))
            rest = stream.transferTo(self._jvm.java.io.OutputStream.nullOutputStream())
            return data, rest == 0
        finally:
            stream.close()


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


def _java_cause(error: Py4JJavaError) -> str:
    """The innermost Java exception, e.g. `java.io.EOFException: Unexpected end of input stream`."""
    cause = error.java_exception
    while cause.getCause() is not None:
        cause = cause.getCause()
    return str(cause.toString())


def probe_file(fs: HadoopFS, source: RawSource, file: str) -> tuple[tuple[str, ...], str] | None:
    """(header, Java charset) of one raw file, or None when it holds nothing but blanks.

    Raises `DataQualityError` when the file cannot be read to its end (a truncated archive).
    """
    try:
        head, whole = fs.head(file, HEAD_BYTES)
    except Py4JJavaError as error:
        raise DataQualityError(
            f"raw file {file} cannot be read ({_java_cause(error)}): nothing written"
        ) from None
    charset, codec = ENCODINGS[source.encoding]
    for mark, mark_charset, mark_codec in BOMS:
        if head.startswith(mark):
            charset, codec, head = mark_charset, mark_codec, head[len(mark) :]
            break
    lines = head.decode(codec, errors="replace").split("\n")
    line = next((text for text in lines if text.strip(BLANKS)), None)
    if line is None and not whole:
        raise DataQualityError(f"raw file {file} has no header in its first {HEAD_BYTES} bytes")
    return None if line is None else (parse_header(line), charset)


def visible_controls(text: Column) -> Column:
    """`text` with its control characters (not TAB/LF/CR) shown as Unicode control pictures."""
    return F.translate(text, CONTROLS, PICTURES)


def _read_layout(
    spark: SparkSession, source: RawSource, files: list[str], header: tuple[str, ...], charset: str
) -> DataFrame:
    """Read files sharing one header layout and encoding into canonical string columns."""
    width = len(header)
    schema = StructType(
        [
            *(StructField(f"_f{i}", StringType()) for i in range(width)),
            StructField(_CORRUPT, StringType()),
        ]
    )
    fields: list[Column] = [F.col(f"_f{i}") for i in range(width)]
    fields[-1] = F.regexp_replace(fields[-1], "\r$", "")
    corrupt = F.regexp_replace(F.col(_CORRUPT), "\r$", "")
    malformed = F.col(_CORRUPT).isNotNull()
    blank = malformed & (F.btrim(corrupt, F.lit(BLANKS)) == "")
    # A header line holds the first column's name; a data line almost never does, so the cheap
    # test comes first and `&` skips the per-field comparison for data lines.
    is_header = ~malformed & F.coalesce(F.lower(fields[0]).contains(header[0]), F.lit(False))
    for field, name in zip(fields, header, strict=True):
        is_header = is_header & (
            F.coalesce(F.lower(F.btrim(field, F.lit(BLANKS))), F.lit("")) == name
        )
    # Every field is referenced (in the record text), so Spark's CSV column pruning never hides
    # a wrong field count.
    parsed = F.to_csv(F.struct(*[f.alias(f"_f{i}") for i, f in enumerate(fields)]), WRITE_OPTIONS)
    visible = F.to_csv(
        F.struct(*[visible_controls(f).alias(f"_f{i}") for i, f in enumerate(fields)]),
        WRITE_OPTIONS,
    )
    # Control characters are rare: the fields are translated only when the record holds one.
    record = F.coalesce(
        visible_controls(corrupt), F.when(parsed.rlike(CONTROL_CLASS), visible).otherwise(parsed)
    )
    columns = [
        (fields[header.index(name)] if name in header else F.lit(None).cast("string")).alias(name)
        for name in source.names
    ]
    return (
        spark.read.schema(schema)
        .options(**CSV_OPTIONS, encoding=charset)
        .csv(files)
        .where(~blank & ~is_header)
        .select(
            *columns,
            F.col("_metadata.file_path").alias(SOURCE_FILE),
            record.alias(RAW_RECORD),
            malformed.alias(MALFORMED),
        )
    )


def read_raw_csv(spark: SparkSession, source: RawSource, directory: str) -> DataFrame:
    """All records of a raw CSV delivery, as canonical string columns plus bookkeeping.

    Columns: the source's columns (strings, null when empty or absent), `_source_file`,
    `_raw_record` (the record's text, see the module docstring) and `_malformed` (wrong number
    of fields). A file holding only blanks or a BOM has no records. Raises `DataQualityError`
    when the delivery is missing or empty, a file lacks a required column or cannot be read.
    """
    fs = HadoopFS(spark)
    files = [f for f in fs.list_files(directory) if f.endswith(RAW_FILE_SUFFIXES)]
    if not files:
        raise DataQualityError(f"no raw {source.source} files (*.csv, *.csv.gz) in {directory}")
    layouts: dict[tuple[tuple[str, ...], str], list[str]] = defaultdict(list)
    for file in files:
        probed = probe_file(fs, source, file)
        if probed is not None:
            check_header(source, file, probed[0])
            layouts[probed].append(file)
    if not layouts:
        raise DataQualityError(f"raw {source.source} files in {directory} are all empty")
    if any(charset not in SPARK_CHARSETS for _, charset in layouts):
        # A declared Korean (or other) encoding needs the JVM's full charset list, which Spark 4
        # keeps behind this flag (it widens the charsets readers and encode/decode accept).
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    frames = [
        _read_layout(spark, source, group, header, charset)
        for (header, charset), group in layouts.items()
    ]
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result
