"""Raw exam-score deliveries as school systems send them: realistic, seeded, and somewhat dirty.

One call writes `<lake>/raw/exam_scores/ingest_date=YYYY-MM-DD/` with several CSV files that
differ the way real exports do (gzip, BOM, CRLF, another column order, quoting, a trailing blank
line) plus `_manifest.json`, which says how many rows of each dirty kind were injected so tests
can check the ingestion's accounting exactly. Everything is vectorised with numpy: 10^6 rows take
a few seconds.
"""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from lakejobs.errors import UsageError

RAW_SOURCE = "exam_scores"
COLUMNS = ("exam_id", "exam_date", "subject", "student_id", "school_id", "class_id", "score")
DIRTY_KINDS = (
    "malformed",
    "bad_type:score",
    "bad_type:exam_date",
    "null:student_id",
    "out_of_range:score",
    "duplicate",
)
MANIFEST = "_manifest.json"

SUBJECTS = ("korean", "math", "english", "history", "physics", "chemistry")
# Electives are taken by fewer students than the core subjects.
SUBJECT_WEIGHTS = (1.0, 1.0, 1.0, 0.8, 0.4, 0.4)
# (month, day, kind) of the exams sat in the ingest date's year.
EXAM_CALENDAR = ((6, 4, "MOCK"), (9, 3, "MOCK"), (11, 13, "CSAT"))
MAX_SCHOOLS = 200
STUDENTS_PER_SCHOOL = 40
HALF_POINT_SHARE = 0.05
# Score column: code c in 0..200 stands for c / 2 points.
SCORE_TEXT = np.array([str(c // 2) + (".5" if c % 2 else "") for c in range(201)], dtype=object)

# Values that break exactly one rule each; none parses as a number or date (no "NaN", no "7d").
BAD_SCORES = np.array(["abc", "7O", "sixty", "x"], dtype=object)
GARBAGE_LINES = ("-- export interrupted --", "ERROR record could not be exported", "<page 2>")

REORDERED = ("student_id", "score", "exam_id", "subject", "class_id", "school_id", "exam_date")
QUOTED_COLUMNS = ("school_id", "class_id")
BOM = b"\xef\xbb\xbf"
# File index (modulo the file count) that gets each delivery quirk, so every quirk appears
# whatever the count; with few files the quirks pile up on the same files.
QUIRK_SLOTS = {"bom": 1, "crlf": 2, "reordered": 3, "quoted": 4, "gzip": 5, "blank_tail": 6}


@dataclass(frozen=True)
class GeneratedBatch:
    """What one call wrote: the expected row accounting for the ingestion of that date."""

    ingest_date: date
    directory: Path
    files: tuple[str, ...]
    data_rows: int
    dirty: Mapping[str, int]
    clean_rows: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "dirty", MappingProxyType(dict(self.dirty)))


def generate_exam_scores(
    lake_dir: Path,
    ingest_date: date,
    rows: int,
    *,
    seed: int = 7,
    dirty_share: float = 0.02,
    files: int = 8,
) -> GeneratedBatch:
    """Write one ingest date of raw exam scores under `lake_dir`, replacing any earlier run's."""
    _validate(rows, dirty_share, files)
    rng = np.random.default_rng([seed, ingest_date.toordinal()])
    dirty = _dirty_counts(rows, dirty_share)
    kinds = _layout(rng, rows, dirty)
    bounds = np.arange(files + 1) * rows // files
    columns = _place_rows(rng, ingest_date.year, kinds, bounds)
    cuts = _spoil(rng, columns, kinds)

    directory = Path(lake_dir) / "raw" / RAW_SOURCE / f"ingest_date={ingest_date.isoformat()}"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    names = tuple(
        _write_file(directory, ingest_date, index, columns, cuts, int(start), int(stop), files)
        for index, (start, stop) in enumerate(itertools.pairwise(bounds))
    )
    batch = GeneratedBatch(
        ingest_date=ingest_date,
        directory=directory,
        files=names,
        data_rows=rows,
        dirty=dirty,
        clean_rows=rows - sum(dirty.values()),
    )
    _write_manifest(batch, directory.relative_to(lake_dir))
    return batch


def generate(lake_dir: Path, ingest_date: date, *, rows: int | None = None, seed: int = 7) -> str:
    """The `lakejobs generate exams` entry point: write a delivery, describe it in one line."""
    batch = generate_exam_scores(lake_dir, ingest_date, rows or 1_000_000, seed=seed)
    dirty = ", ".join(f"{kind} {count:,}" for kind, count in batch.dirty.items())
    return (
        f"exams: {batch.data_rows:,} score lines in {len(batch.files)} files at "
        f"{batch.directory} (injected: {dirty})"
    )


def read_manifest(directory: Path) -> dict[str, Any]:
    """The `GeneratedBatch` fields of a generated folder: `GeneratedBatch(**read_manifest(d))`.

    The file stores the folder relative to the lake; the answer gives `directory` as passed."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise UsageError(f"no generator manifest {MANIFEST} in {directory}")
    fields = json.loads(path.read_text(encoding="utf-8"))
    return {
        **fields,
        "ingest_date": date.fromisoformat(fields["ingest_date"]),
        "directory": Path(directory),
        "files": tuple(fields["files"]),
    }


def _validate(rows: int, dirty_share: float, files: int) -> None:
    if rows < 1:
        raise UsageError(f"rows must be at least 1, got {rows}")
    if not 0.0 <= dirty_share < 0.5:
        raise UsageError(f"dirty_share must be at least 0 and below 0.5, got {dirty_share}")
    if files < 1:
        raise UsageError(f"files must be at least 1, got {files}")


def _dirty_counts(rows: int, dirty_share: float) -> dict[str, int]:
    """Split round(rows * share) evenly over the kinds; from 100 rows on, every kind shows up."""
    total = round(rows * dirty_share)
    if rows >= 100 and dirty_share > 0:
        total = max(total, len(DIRTY_KINDS))
    share, extra = divmod(total, len(DIRTY_KINDS))
    return {kind: share + (i < extra) for i, kind in enumerate(DIRTY_KINDS)}


def _layout(rng: np.random.Generator, rows: int, dirty: Mapping[str, int]) -> np.ndarray:
    """Kind code per line (0 clean, i + 1 for DIRTY_KINDS[i]); line 0 is clean so every
    duplicate has an earlier clean original."""
    codes = np.repeat(
        np.arange(len(DIRTY_KINDS) + 1), [rows - sum(dirty.values()), *dirty.values()]
    )
    return np.concatenate([codes[:1], rng.permutation(codes[1:])])


def _code(kind: str) -> int:
    return DIRTY_KINDS.index(kind) + 1


def _place_rows(
    rng: np.random.Generator, year: int, kinds: np.ndarray, bounds: np.ndarray
) -> dict[str, np.ndarray]:
    """All lines' field values: distinct keys everywhere except the duplicates, which copy an
    earlier clean line, preferably one in an earlier file."""
    duplicate = kinds == _code("duplicate")
    keyed = _keyed_rows(rng, year, int((~duplicate).sum()))
    columns = {}
    for name, values in keyed.items():
        column = np.empty(kinds.size, dtype=object)
        column[~duplicate] = values
        columns[name] = column
    copies, originals = _originals(rng, kinds, bounds)
    for column in columns.values():
        column[copies] = column[originals]
    return columns


def _keyed_rows(rng: np.random.Generator, year: int, n: int) -> dict[str, np.ndarray]:
    """`n` rows with distinct (exam_id, subject, student_id), in random order.

    Every (exam, subject) group draws distinct students from one pool, so a student sits several
    subjects and exams, always for the same school and class."""
    exams = [
        (f"{year}-{m:02d}-{kind}", date(year, m, d).isoformat()) for m, d, kind in EXAM_CALENDAR
    ]
    weights = np.tile(SUBJECT_WEIGHTS, len(exams))
    sizes = rng.multinomial(n, weights / weights.sum())
    pool = int(sizes.max() * 1.25) + 5
    students = np.concatenate([rng.choice(pool, k, replace=False) for k in sizes])
    groups = np.repeat(np.arange(sizes.size), sizes)
    order = rng.permutation(n)
    students, groups = students[order], groups[order]
    exam, subject = np.divmod(groups, len(SUBJECTS))
    school_ids, class_ids = _school_tables(rng, pool)
    return {
        "exam_id": np.array([e for e, _ in exams], dtype=object)[exam],
        "exam_date": np.array([d for _, d in exams], dtype=object)[exam],
        "subject": np.array(SUBJECTS, dtype=object)[subject],
        "student_id": np.array([f"ST{s + 1:07d}" for s in range(pool)], dtype=object)[students],
        "school_id": school_ids[students],
        "class_id": class_ids[students],
        "score": SCORE_TEXT[_score_codes(rng, groups, sizes.size)],
    }


def _school_tables(rng: np.random.Generator, pool: int) -> tuple[np.ndarray, np.ndarray]:
    """School id and class id per student of the pool (~40 students a school, 8-15 classes)."""
    schools = int(np.clip(pool // STUDENTS_PER_SCHOOL, 1, MAX_SCHOOLS))
    school_of = rng.integers(0, schools, pool)
    class_of = (rng.random(pool) * rng.integers(8, 16, schools)[school_of]).astype(np.int64) + 1
    school_names = [f"S{s + 1:04d}" for s in range(schools)]
    school_ids = np.array(school_names, dtype=object)[school_of]
    class_ids = np.array(
        [f"{s}-C{c:02d}" for s, c in zip(school_ids, class_of, strict=True)], dtype=object
    )
    return school_ids, class_ids


def _score_codes(rng: np.random.Generator, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Half-point codes of bell-shaped scores (mean ~62, sd ~18, a few points off per group),
    clipped to 0..100 so each group has many ties; a few are half points like 71.5."""
    means = 62 + rng.uniform(-5, 5, n_groups)
    points = np.clip(np.rint(rng.normal(means[groups], 18)), 0, 100).astype(np.int64)
    codes = 2 * points + (rng.random(groups.size) < HALF_POINT_SHARE)
    return np.where(codes > 200, 199, codes)


def _originals(
    rng: np.random.Generator, kinds: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(duplicate line, clean line it copies): an original from an earlier file when there is
    one, else an earlier line of the first file."""
    copies = np.flatnonzero(kinds == _code("duplicate"))
    clean = np.flatnonzero(kinds == 0)
    starts = bounds[np.searchsorted(bounds, copies, side="right") - 1]
    before = np.searchsorted(clean, np.where(starts > 0, starts, copies))  # >= 1: line 0 is clean
    return copies, clean[(rng.random(copies.size) * before).astype(np.int64)]


def _spoil(
    rng: np.random.Generator, columns: dict[str, np.ndarray], kinds: np.ndarray
) -> np.ndarray:
    """Break one field of each dirty line; return per line how to cut malformed ones
    (0 keep, -1 garbage text, k > 0 keep only the first k fields)."""
    score, exam_date = columns["score"], columns["exam_date"]
    lines = np.flatnonzero(kinds == _code("bad_type:score"))
    score[lines] = BAD_SCORES[rng.integers(0, BAD_SCORES.size, lines.size)]
    lines = np.flatnonzero(kinds == _code("bad_type:exam_date"))
    swap = rng.random(lines.size) < 0.5
    exam_date[lines] = [
        f"{d[8:]}/{d[5:7]}/{d[:4]}" if day_first else f"{d[:4]}-13-45"
        for d, day_first in zip(exam_date[lines], swap, strict=True)
    ]
    columns["student_id"][kinds == _code("null:student_id")] = ""
    lines = np.flatnonzero(kinds == _code("out_of_range:score"))
    high, low = rng.integers(101, 151, lines.size), rng.integers(-30, 0, lines.size)
    score[lines] = np.where(rng.random(lines.size) < 0.7, high, low).astype(str).astype(object)
    cuts = np.zeros(kinds.size, dtype=np.int64)
    lines = np.flatnonzero(kinds == _code("malformed"))
    cuts[lines] = np.where(rng.random(lines.size) < 0.5, -1, rng.integers(1, 6, lines.size))
    return cuts


def _write_file(
    directory: Path,
    ingest_date: date,
    index: int,
    columns: dict[str, np.ndarray],
    cuts: np.ndarray,
    start: int,
    stop: int,
    files: int,
) -> str:
    """Write lines start..stop as file `index` with the quirks of its slot; return its name."""
    quirks = {quirk for quirk, slot in QUIRK_SLOTS.items() if slot % files == index}
    order = REORDERED if "reordered" in quirks else COLUMNS
    values = [columns[name][start:stop].tolist() for name in order]
    if "quoted" in quirks:
        values = [
            [f'"{v}"' for v in column] if name in QUOTED_COLUMNS else column
            for name, column in zip(order, values, strict=True)
        ]
    lines = list(map(",".join, zip(*values, strict=True)))
    for line in np.flatnonzero(cuts[start:stop]):
        cut = int(cuts[start + line])
        lines[line] = (
            GARBAGE_LINES[(start + line) % len(GARBAGE_LINES)]
            if cut < 0
            else ",".join(lines[line].split(",")[:cut])
        )
    eol = "\r\n" if "crlf" in quirks else "\n"
    text = eol.join([",".join(order), *lines]) + eol * (2 if "blank_tail" in quirks else 1)
    data = (BOM if "bom" in quirks else b"") + text.encode("utf-8")
    name = f"{RAW_SOURCE}_{ingest_date:%Y%m%d}_{index:02d}.csv"
    if "gzip" in quirks:
        name, data = name + ".gz", gzip.compress(data, compresslevel=6, mtime=0)
    (directory / name).write_bytes(data)
    return name


def _write_manifest(batch: GeneratedBatch, relative: Path) -> None:
    """Store the batch with the folder relative to the lake, so bytes don't depend on its place."""
    fields = {
        "ingest_date": batch.ingest_date.isoformat(),
        "directory": relative.as_posix(),
        "files": list(batch.files),
        "data_rows": batch.data_rows,
        "dirty": dict(batch.dirty),
        "clean_rows": batch.clean_rows,
    }
    (batch.directory / MANIFEST).write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
