"""The events generator: deterministic bytes and a manifest that matches what it wrote."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from jobs.events.generate import generate, read_manifest
from lakejobs.errors import UsageError

DAY = date(2026, 11, 20)


def delivery(lake: Path, day: date) -> Path:
    return lake / "raw" / "events" / f"ingest_date={day.isoformat()}"


def lines_of(folder: Path) -> list[str]:
    return [
        line
        for file in sorted(folder.glob("*.jsonl.gz"))
        for line in gzip.decompress(file.read_bytes()).decode().splitlines()
        if line.strip()
    ]


def test_the_same_arguments_write_the_same_bytes(tmp_path: Path):
    generate(tmp_path / "a", DAY, rows=500)
    generate(tmp_path / "b", DAY, rows=500)
    generate(tmp_path / "b", DAY, rows=500)  # rewriting replaces the folder
    a, b = delivery(tmp_path / "a", DAY), delivery(tmp_path / "b", DAY)
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for file in a.iterdir():
        assert file.read_bytes() == (b / file.name).read_bytes(), file.name


def test_the_manifest_accounts_for_every_line(tmp_path: Path):
    summary = generate(tmp_path, DAY, rows=2_000)
    manifest = read_manifest(delivery(tmp_path, DAY))
    lines = lines_of(delivery(tmp_path, DAY))
    duplicates = manifest["duplicates"]["in_batch"] + manifest["duplicates"]["cross_date"]
    malformed = sum(manifest["malformed"].values())
    assert len(lines) == manifest["rows"] == 2_000
    assert manifest["events"] + duplicates + malformed == 2_000
    assert sum(manifest["schema_versions"].values()) == manifest["events"]
    assert sum(manifest["event_dates"].values()) == manifest["events"]
    assert manifest["late_events"] == sum(
        n for day, n in manifest["event_dates"].items() if day < DAY.isoformat()
    )
    assert all(n > 0 for n in manifest["malformed"].values())
    assert summary.startswith("generated 2,000 event lines (")
    not_objects = [line for line in lines if not line.startswith("{")]
    assert len(not_objects) == manifest["malformed"]["not_an_object"]


def test_cross_date_duplicates_repeat_lines_of_the_previous_delivery(tmp_path: Path):
    generate(tmp_path, DAY, rows=2_000)
    generate(tmp_path, date(2026, 11, 19), rows=2_000)
    today, yesterday = (
        lines_of(delivery(tmp_path, DAY)),
        lines_of(delivery(tmp_path, date(2026, 11, 19))),
    )
    shared = {
        json.loads(line)["event_id"]
        for line in set(today) & set(yesterday)
        if line.startswith('{"event_id": "')
    }
    manifest = read_manifest(delivery(tmp_path, DAY))
    assert len(shared) == manifest["duplicates"]["cross_date"]


def test_too_few_rows_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match=r"^rows must be at least 100, got 10$"):
        generate(tmp_path, DAY, rows=10)
