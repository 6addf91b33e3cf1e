"""The raw exam-score generator: deterministic, honest about its dirt, and varied like real exports.

The files are read back with Python's csv module, independently of the Spark reader, so the
manifest counts that ingestion tests rely on are checked against the bytes actually written.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from jobs.exams.generate import (
    COLUMNS,
    DIRTY_KINDS,
    GeneratedBatch,
    generate_exam_scores,
    read_manifest,
)
from lakejobs.errors import UsageError

INGEST = date(2026, 11, 20)
BOM = b"\xef\xbb\xbf"
SUBJECTS = {"korean", "math", "english", "history", "physics", "chemistry"}
Record = dict[str, str | None]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> GeneratedBatch:
    """One 10^4-row delivery shared by the read-only specs (generating it takes ~50 ms)."""
    return generate_exam_scores(tmp_path_factory.mktemp("lake"), INGEST, 10_000)


def raw_bytes(path: Path) -> bytes:
    """A file's bytes as a reader sees them after decompression."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def text_of(path: Path) -> str:
    return raw_bytes(path).decode("utf-8-sig")


def data_lines(path: Path) -> list[str]:
    """Non-blank lines after the header, whatever the line endings."""
    return [line for line in text_of(path).splitlines()[1:] if line]


def records(batch: GeneratedBatch) -> list[tuple[str, Record]]:
    """(file name, row) for every data line, each file read by its own header."""
    return [
        (name, row)
        for name in batch.files
        for row in csv.DictReader(io.StringIO(text_of(batch.directory / name), newline=""))
    ]


def folder_bytes(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def problem(row: Record) -> str | None:
    """The one dirty kind a row shows (None when valid), judged from the text alone."""
    if None in row or None in row.values():
        return "malformed"
    if row["student_id"] == "":
        return "null:student_id"
    score = number(row["score"])
    if score is None:
        return "bad_type:score"
    if iso_date(row["exam_date"]) is None:
        return "bad_type:exam_date"
    if not 0 <= score <= 100:
        return "out_of_range:score"
    return None


def key(row: Record) -> tuple[str | None, ...]:
    return row["exam_id"], row["subject"], row["student_id"]


def observed_dirt(batch: GeneratedBatch) -> tuple[Counter[str], list[tuple[str, Record]]]:
    """Counts per dirty kind found in the files, and the valid rows' first occurrences."""
    found: Counter[str] = Counter()
    first: dict[tuple[str | None, ...], tuple[str, Record]] = {}
    for name, row in records(batch):
        kind = problem(row)
        if kind is None and key(row) in first:
            kind = "duplicate"
        if kind is None:
            first[key(row)] = (name, row)
        else:
            found[kind] += 1
    return found, list(first.values())


def test_same_arguments_give_identical_bytes_wherever_the_lake_is(tmp_path: Path) -> None:
    one = generate_exam_scores(tmp_path / "a", INGEST, 3_000, seed=11)
    two = generate_exam_scores(tmp_path / "b", INGEST, 3_000, seed=11)
    assert folder_bytes(one.directory) == folder_bytes(two.directory)


def test_seed_and_ingest_date_change_the_content(tmp_path: Path) -> None:
    def first_file(batch: GeneratedBatch) -> list[str]:
        return data_lines(batch.directory / batch.files[0])

    base = first_file(generate_exam_scores(tmp_path / "a", INGEST, 500))
    assert first_file(generate_exam_scores(tmp_path / "b", INGEST, 500, seed=8)) != base
    assert first_file(generate_exam_scores(tmp_path / "c", date(2026, 11, 21), 500)) != base


def test_rerun_replaces_the_folder_content(tmp_path: Path) -> None:
    first = generate_exam_scores(tmp_path, INGEST, 1_000, files=8)
    (first.directory / "stray.csv").write_text("left over\n")
    again = generate_exam_scores(tmp_path, INGEST, 1_000, files=3)
    assert again.directory == first.directory
    assert sorted(p.name for p in again.directory.iterdir()) == sorted(
        [*again.files, "_manifest.json"]
    )


@pytest.mark.parametrize(("rows", "dirty_share"), [(10_000, 0.02), (1_000, 0.3), (50, 0.0)])
def test_counts_add_up_and_match_the_lines_in_the_files(
    tmp_path: Path, rows: int, dirty_share: float
) -> None:
    batch = generate_exam_scores(tmp_path, INGEST, rows, dirty_share=dirty_share)
    assert batch.data_rows == rows == batch.clean_rows + sum(batch.dirty.values())
    assert sum(len(data_lines(batch.directory / name)) for name in batch.files) == rows
    assert sum(batch.dirty.values()) == round(rows * dirty_share)


@pytest.mark.parametrize("files", [1, 2, 3, 8])
def test_every_file_quirk_is_present_whatever_the_file_count(tmp_path: Path, files: int) -> None:
    batch = generate_exam_scores(tmp_path, INGEST, 1_000, files=files)
    paths = [batch.directory / name for name in batch.files]
    assert len(paths) == files
    assert any(p.name.endswith(".csv.gz") and p.read_bytes()[:2] == b"\x1f\x8b" for p in paths)
    assert all(p.name.endswith((".csv", ".csv.gz")) for p in paths)
    assert any(raw_bytes(p).startswith(BOM) for p in paths)
    assert any(b"\r\n" in raw_bytes(p) for p in paths)
    assert any(raw_bytes(p).endswith((b"\n\n", b"\r\n\r\n")) for p in paths)
    assert any('"S0' in text_of(p) for p in paths)
    headers = {tuple(text_of(p).splitlines()[0].split(",")) for p in paths}
    assert all(sorted(header) == sorted(COLUMNS) for header in headers)
    assert any(header != COLUMNS for header in headers)


def test_every_dirty_kind_is_injected_at_ten_thousand_rows(batch: GeneratedBatch) -> None:
    assert tuple(batch.dirty) == DIRTY_KINDS
    assert all(count >= 1 for count in batch.dirty.values())
    assert sum(batch.dirty.values()) == 200


def test_every_kind_shows_up_from_a_hundred_rows_even_with_a_tiny_share(tmp_path: Path) -> None:
    batch = generate_exam_scores(tmp_path, INGEST, 100, dirty_share=0.001)
    assert dict(batch.dirty) == dict.fromkeys(DIRTY_KINDS, 1)


@pytest.mark.parametrize("dirty_share", [0.02, 0.4])
def test_the_files_show_exactly_the_dirt_the_manifest_declares(
    tmp_path: Path, dirty_share: float
) -> None:
    batch = generate_exam_scores(tmp_path, INGEST, 5_000, dirty_share=dirty_share, files=5)
    found, clean = observed_dirt(batch)
    assert dict(found) == {kind: n for kind, n in batch.dirty.items() if n}
    assert len(clean) == batch.clean_rows


def test_some_duplicates_sit_in_another_file_than_their_original(batch: GeneratedBatch) -> None:
    origin: dict[tuple[str | None, ...], str] = {}
    crossing = 0
    for name, row in records(batch):
        if problem(row) is None:
            crossing += key(row) in origin and origin[key(row)] != name
            origin.setdefault(key(row), name)
    assert 1 <= crossing <= batch.dirty["duplicate"]


def test_clean_rows_hold_valid_values_in_range(batch: GeneratedBatch) -> None:
    _, clean = observed_dirt(batch)
    for _, row in clean:
        exam_date = iso_date(row["exam_date"])
        assert re.fullmatch(r"2026-(06|09)-MOCK|2026-11-CSAT", row["exam_id"])
        assert exam_date is not None and row["exam_id"].startswith(f"{exam_date:%Y-%m}")
        assert row["subject"] in SUBJECTS
        assert re.fullmatch(r"ST\d{7}", row["student_id"])
        assert re.fullmatch(r"S\d{4}", row["school_id"])
        assert re.fullmatch(rf"{row['school_id']}-C\d\d", row["class_id"])
        assert float(row["score"]) * 2 == int(float(row["score"]) * 2)


def test_scores_are_bell_shaped_with_ties_and_some_half_points(batch: GeneratedBatch) -> None:
    _, clean = observed_dirt(batch)
    scores = [float(row["score"]) for _, row in clean]
    assert 58 < sum(scores) / len(scores) < 66
    assert 0.02 < sum(s % 1 == 0.5 for s in scores) / len(scores) < 0.08
    groups: dict[tuple[str | None, ...], list[float]] = {}
    for (_, row), score in zip(clean, scores, strict=True):
        groups.setdefault((row["exam_id"], row["subject"]), []).append(score)
    assert len(groups) == 18
    assert all(len(set(group)) < len(group) / 2 for group in groups.values())


def test_a_student_keeps_school_and_class_across_subjects(batch: GeneratedBatch) -> None:
    _, clean = observed_dirt(batch)
    homes = {(row["student_id"], row["school_id"], row["class_id"]) for _, row in clean}
    assert len(homes) == len({student for student, _, _ in homes}) < len(clean)


def test_the_manifest_round_trips(batch: GeneratedBatch) -> None:
    assert GeneratedBatch(**read_manifest(batch.directory)) == batch
    stored = (batch.directory / "_manifest.json").read_text()
    assert '"directory": "raw/exam_scores/ingest_date=2026-11-20"' in stored


def test_reading_a_folder_without_manifest_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^no generator manifest _manifest\.json in "):
        read_manifest(tmp_path)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"rows": 0}, "rows must be at least 1, got 0"),
        ({"dirty_share": 0.5}, "dirty_share must be at least 0 and below 0.5, got 0.5"),
        ({"dirty_share": -0.1}, "dirty_share must be at least 0 and below 0.5, got -0.1"),
        ({"files": 0}, "files must be at least 1, got 0"),
    ],
)
def test_bad_arguments_raise_usage_error(tmp_path: Path, arguments: dict, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        generate_exam_scores(tmp_path, INGEST, **{"rows": 100, **arguments})
    assert str(raised.value) == message
    assert not (tmp_path / "raw").exists()
