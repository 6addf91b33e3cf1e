"""The generic JSON-lines reader: one row per non-blank line, nothing lost, malformed flagged."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from pyspark.sql.types import StringType, StructField, StructType

from lakejobs.errors import DataQualityError
from lakejobs.jsonlines import read_raw_json_lines

SCHEMA = StructType([StructField("id", StringType()), StructField("n", StringType())])


def test_every_non_blank_line_of_every_json_lines_file_becomes_one_row(spark, tmp_path: Path):
    (tmp_path / "a.jsonl").write_text('{"id": "a", "n": 1}\n\n{"id": "b"}\r\n', encoding="utf-8")
    (tmp_path / "b.json.gz").write_bytes(
        gzip.compress('\ufeff{"id": "c", "n": {"x": 2}, "extra": true}\n'.encode(), mtime=0)
    )
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b'{"id": "d", "n": 4\n[1, 2]\n42\n'))
    (tmp_path / "notes.txt").write_text('{"id": "ignored"}\n', encoding="utf-8")
    (tmp_path / "_manifest.json").write_text('{"id": "hidden"}\n', encoding="utf-8")

    df = read_raw_json_lines(spark, f"file:{tmp_path}", SCHEMA)

    assert df.columns == ["id", "n", "_source_file", "_raw_record", "_malformed"]
    rows = sorted(
        (r["_source_file"].rsplit("/", 1)[-1], r["_raw_record"], r["id"], r["n"], r["_malformed"])
        for r in df.collect()
    )
    assert rows == [
        ("a.jsonl", '{"id": "a", "n": 1}', "a", "1", False),
        ("a.jsonl", '{"id": "b"}', "b", None, False),
        ("b.json.gz", '{"id": "c", "n": {"x": 2}, "extra": true}', "c", '{"x":2}', False),
        ("c.jsonl.gz", "42", None, None, True),
        ("c.jsonl.gz", "[1, 2]", None, None, True),
        ("c.jsonl.gz", '{"id": "d", "n": 4', None, None, True),
    ]


def test_a_delivery_without_json_lines_files_fails_the_run(spark, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("nothing here\n", encoding="utf-8")
    with pytest.raises(DataQualityError) as raised:
        read_raw_json_lines(spark, f"file:{tmp_path}", SCHEMA)
    assert str(raised.value) == (
        f"no JSON-lines files (*.jsonl, *.jsonl.gz, *.json, *.json.gz) in file:{tmp_path}"
    )
