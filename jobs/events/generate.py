"""Raw service-log deliveries: gzipped JSON lines, at least once, late, two schema versions, dirty.

One call writes `<lake>/raw/events/ingest_date=YYYY-MM-DD/` (replacing it) with a few
`*.jsonl.gz` files plus `_manifest.json`, which counts everything injected so tests can check
the ingestion's accounting exactly. A delivery holds its new events (most from the ingest date,
some days late), copies of some of them (duplicate deliveries), copies of events of the previous
ingest date's delivery (as generated with the same seed and rows), and malformed lines of four
kinds. Output depends only on (seed, ingest date, rows); numpy does the heavy lifting.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lakejobs.errors import UsageError

RAW_SOURCE = "events"
MANIFEST = "_manifest.json"
DEFAULT_ROWS = 200_000
MIN_ROWS = 100
FILES = 4
# Share of the delivery's lines per injected kind (each at least one line).
SHARES = {
    "in_batch": 0.02,
    "cross_date": 0.01,
    "truncated_json": 0.003,
    "not_an_object": 0.002,
    "missing_event_id": 0.003,
    "unparseable_time": 0.004,
}
MALFORMED_KINDS = ("truncated_json", "not_an_object", "missing_event_id", "unparseable_time")
V1_SHARE = 0.3
LATE_SHARE = 0.15
MAX_LATE_DAYS = 5
EVENT_TYPES = np.array(["app_open", "screen_view", "click", "search", "purchase", "logout"])
EVENT_TYPE_WEIGHTS = np.array([0.15, 0.4, 0.25, 0.1, 0.03, 0.07])
APP_VERSIONS = np.array(["2.4.0", "2.5.1", "3.0.0", "3.1.2"])
SCREENS = np.array(["home", "search", "item", "cart", "settings"])
OFFSETS = (("Z", 0), ("+09:00", 540), ("-05:00", -300), ("+05:30", 330))
# Users: each day a window of the pool is active, sliding so that new users keep arriving;
# the newest users of the window are the most active.
USER_EPOCH = date(2020, 1, 1)
UNIX_EPOCH = date(1970, 1, 1)
MS_PER_DAY = 86_400_000
BAD_V1_TS = ("yesterday", "1732000000000ms", "NaN")
BAD_V2_TIMES = ("{d}T25:61:00+09:00", "{d}T10:00:00.000", "20/11/2026 10:00:00+00:00")
NOT_OBJECTS = ("[{line}]", '"{event_id}"', "null", "42", "true")


def generate(lake_dir: Path, ingest_date: date, *, rows: int | None = None, seed: int = 7) -> str:
    """Write one ingest date of raw events under `lake_dir`; return a one-line summary."""
    rows = DEFAULT_ROWS if rows is None else rows
    if rows < MIN_ROWS:
        raise UsageError(f"rows must be at least {MIN_ROWS}, got {rows}")
    counts = {kind: max(1, round(rows * share)) for kind, share in SHARES.items()}
    n_events = rows - sum(counts.values())
    base = _events(np.random.default_rng([seed, ingest_date.toordinal(), 0]), ingest_date, n_events)
    lines = _format(base, np.arange(n_events))
    rng = np.random.default_rng([seed, ingest_date.toordinal(), 1])

    previous_date = ingest_date - timedelta(days=1)
    previous = _events(
        np.random.default_rng([seed, previous_date.toordinal(), 0]), previous_date, n_events
    )
    extra = [
        *(lines[i] for i in rng.integers(0, n_events, counts["in_batch"])),
        *_format(previous, rng.choice(n_events, counts["cross_date"], replace=False)),
    ]
    spare = _events(rng, ingest_date, sum(counts[k] for k in MALFORMED_KINDS))
    start = 0
    for kind in MALFORMED_KINDS:
        picked = np.arange(start, start + counts[kind])
        extra.extend(_malformed(rng, kind, spare, picked, ingest_date))
        start += counts[kind]
    everything = np.array(lines + extra, dtype=object)[rng.permutation(rows)]

    directory = Path(lake_dir) / "raw" / RAW_SOURCE / f"ingest_date={ingest_date.isoformat()}"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    files = [
        _write(directory, ingest_date, index, chunk.tolist())
        for index, chunk in enumerate(np.array_split(everything, FILES))
    ]
    event_dates = Counter(
        (UNIX_EPOCH + timedelta(days=int(d))).isoformat() for d in base["millis"] // MS_PER_DAY
    )
    v1 = int(base["v1"].sum())
    manifest = {
        "ingest_date": ingest_date.isoformat(),
        "seed": seed,
        "rows": rows,
        "files": files,
        "events": n_events,
        "schema_versions": {"v1": v1, "v2": n_events - v1},
        "late_events": int((base["millis"] < _day_millis(ingest_date)).sum()),
        "event_dates": dict(sorted(event_dates.items())),
        "duplicates": {
            "in_batch": counts["in_batch"],
            "cross_date": counts["cross_date"],
            "cross_date_from": previous_date.isoformat(),
        },
        "malformed": {kind: counts[kind] for kind in MALFORMED_KINDS},
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return (
        f"generated {rows:,} event lines ({n_events:,} new events, "
        f"{counts['in_batch'] + counts['cross_date']:,} duplicate deliveries, "
        f"{sum(counts[k] for k in MALFORMED_KINDS):,} malformed) in {len(files)} files at {directory}"
    )


def read_manifest(directory: Path) -> dict[str, Any]:
    """The `_manifest.json` of a generated delivery folder."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise UsageError(f"no generator manifest {MANIFEST} in {directory}")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def _day_millis(day: date) -> int:
    return (day - UNIX_EPOCH).days * MS_PER_DAY


def _events(rng: np.random.Generator, ingest_date: date, n: int) -> dict[str, np.ndarray]:
    """`n` distinct events delivered on `ingest_date`: every field, drawn in a fixed order."""
    ids = rng.bytes(16 * n).hex()
    late = rng.random(n) < LATE_SHARE
    days_back = np.where(late, rng.integers(1, MAX_LATE_DAYS + 1, n), 0)
    millis = _day_millis(ingest_date) - days_back * MS_PER_DAY + rng.integers(0, MS_PER_DAY, n)
    pool = max(20, n // 10)
    window_start = (ingest_date - USER_EPOCH).days * max(1, pool // 10) - days_back
    users = window_start + pool - 1 - (rng.random(n) ** 2 * pool).astype(np.int64)
    return {
        "event_id": np.array([ids[32 * i : 32 * i + 32] for i in range(n)], dtype=object),
        "v1": rng.random(n) < V1_SHARE,
        "millis": millis,
        "user": np.array([f"u{u:08d}" for u in users], dtype=object),
        "type": EVENT_TYPES[rng.choice(EVENT_TYPES.size, n, p=EVENT_TYPE_WEIGHTS)],
        "offset": rng.integers(0, len(OFFSETS), n),
        "app_version": APP_VERSIONS[rng.integers(0, APP_VERSIONS.size, n)],
        "screen": SCREENS[rng.integers(0, SCREENS.size, n)],
        "duration_ms": rng.integers(50, 60_000, n),
    }


def _iso_times(events: dict[str, np.ndarray], picked: np.ndarray) -> list[str]:
    """ISO-8601 local times with the event's offset, millisecond precision."""
    minutes = np.array([OFFSETS[o][1] for o in events["offset"][picked]], dtype=np.int64)
    local = (events["millis"][picked] + minutes * 60_000).astype("datetime64[ms]")
    texts = np.datetime_as_string(local, unit="ms")
    suffixes = [OFFSETS[o][0] for o in events["offset"][picked]]
    return [t + s for t, s in zip(texts, suffixes, strict=True)]


def _format(
    events: dict[str, np.ndarray],
    picked: np.ndarray,
    *,
    event_id: str = "present",
    times: list[str] | None = None,
) -> list[str]:
    """JSON lines of the picked events in their schema version.

    `event_id` is "present", "absent", "null" or "empty"; `times` replaces v1 `ts` / v2
    `event_time` values (already JSON-encoded) to spoil them."""
    iso = _iso_times(events, picked)
    lines = []
    for position, i in enumerate(picked):
        if event_id == "present":
            id_part = f'"event_id": "{events["event_id"][i]}", '
        else:
            id_part = {"absent": "", "null": '"event_id": null, ', "empty": '"event_id": "", '}[
                event_id
            ]
        if events["v1"][i]:
            ts = times[position] if times else str(int(events["millis"][i]))
            lines.append(
                f'{{{id_part}"uid": "{events["user"][i]}", "ts": {ts}, '
                f'"type": "{events["type"][i]}"}}'
            )
        else:
            when = times[position] if times else f'"{iso[position]}"'
            lines.append(
                f'{{{id_part}"user_id": "{events["user"][i]}", "event_time": {when}, '
                f'"event_type": "{events["type"][i]}", "app_version": '
                f'"{events["app_version"][i]}", "props": {{"screen": "{events["screen"][i]}", '
                f'"duration_ms": {int(events["duration_ms"][i])}}}}}'
            )
    return lines


def _malformed(
    rng: np.random.Generator,
    kind: str,
    events: dict[str, np.ndarray],
    picked: np.ndarray,
    ingest_date: date,
) -> list[str]:
    """Lines of one malformed kind made from spare events (each breaks exactly one thing)."""
    if kind == "missing_event_id":
        variants = ("absent", "null", "empty")
        return [
            _format(events, picked[j : j + 1], event_id=variants[j % len(variants)])[0]
            for j in range(picked.size)
        ]
    if kind == "unparseable_time":
        times = [
            json.dumps(
                BAD_V1_TS[j % len(BAD_V1_TS)]
                if events["v1"][i]
                else BAD_V2_TIMES[j % len(BAD_V2_TIMES)].format(d=ingest_date.isoformat())
            )
            for j, i in enumerate(picked)
        ]
        return _format(events, picked, times=times)
    lines = _format(events, picked)
    if kind == "truncated_json":  # a proper prefix of an object never closes it
        return [line[: int(rng.integers(1, len(line) - 1))] for line in lines]
    return [
        NOT_OBJECTS[j % len(NOT_OBJECTS)].format(line=line, event_id=events["event_id"][i])
        for j, (i, line) in enumerate(zip(picked, lines, strict=True))
    ]


def _write(directory: Path, ingest_date: date, index: int, lines: list[str]) -> str:
    """One gzipped file (mtime 0, so bytes are reproducible); file 1 has CRLF line ends and
    file 2 a trailing blank line, as some log shippers write them."""
    eol = "\r\n" if index == 1 else "\n"
    text = eol.join(lines) + eol + (eol if index == 2 else "")
    name = f"events_{ingest_date:%Y%m%d}_{index:02d}.jsonl.gz"
    (directory / name).write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))
    return name
