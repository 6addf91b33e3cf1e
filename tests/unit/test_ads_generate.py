"""The ads generator: deterministic, consistent across ingest dates, and honest manifests."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from jobs.ads.generate import FX_BASE, SOURCES, generate, read_manifest
from lakejobs.errors import UsageError

D1, D2 = date(2026, 11, 20), date(2026, 11, 21)


def folder(lake: Path, source: str, day: date) -> Path:
    return lake / "raw" / source / f"ingest_date={day.isoformat()}"


def contents(lake: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()
    }


def data_lines(directory: Path) -> list[str]:
    lines = []
    for path in sorted(directory.glob("[!_]*")):
        text = path.read_text(encoding="utf-8").splitlines()
        lines += [t for t in (text if path.suffix == ".jsonl" else text[1:]) if t.strip()]
    return lines


def test_the_same_date_and_seed_give_the_same_bytes_and_rewrite_the_folders(tmp_path):
    summary = generate(tmp_path / "a", D1, rows=500)
    (folder(tmp_path / "a", "payments", D1) / "stale.csv").write_text("x\n")
    assert generate(tmp_path / "a", D1, rows=500) == summary
    generate(tmp_path / "b", D1, rows=500)
    assert contents(tmp_path / "a") == contents(tmp_path / "b")
    assert summary.startswith("ads raw for 2026-11-20 (seed 7): facebook_spend ")
    assert "\n" not in summary
    generate(tmp_path / "c", D1, rows=500, seed=8)
    assert contents(tmp_path / "a") != contents(tmp_path / "c")


def test_manifests_count_the_lines_and_problems_written(tmp_path):
    generate(tmp_path, D1, rows=500)
    for source in SOURCES:
        directory = folder(tmp_path, source, D1)
        manifest = read_manifest(directory)
        assert manifest["data_rows"] == len(data_lines(directory)), source
        assert manifest["clean_rows"] == (
            manifest["data_rows"] - sum(manifest["quarantine"].values()) - manifest["duplicates"]
        )
    spend = read_manifest(folder(tmp_path, "facebook_spend", D1))
    assert spend["quarantine"] == {"malformed": 1, "unknown_currency:currency": 2}
    payments = read_manifest(folder(tmp_path, "payments", D1))
    lines = data_lines(folder(tmp_path, "payments", D1))
    rows = {line: row for line, row in zip(lines, csv.reader(lines), strict=True)}
    statuses = [row[4] for row in rows.values() if len(row) == 6]
    assert payments["counts"] == {s: statuses.count(s) for s in ("paid", "refunded", "failed")}
    assert payments["counts"]["refunded"] > 0 and payments["counts"]["failed"] > 0


def test_facebook_spend_is_a_string_and_installs_hide_in_actions(tmp_path):
    generate(tmp_path, D1, rows=500)
    line = data_lines(folder(tmp_path, "facebook_spend", D1))[0]
    record = json.loads(line)
    assert isinstance(record["spend"], str) and float(record["spend"]) > 0
    assert {a["action_type"] for a in record["actions"]} >= {"link_click"}
    assert "installs" not in record


def test_consecutive_deliveries_agree_on_the_days_they_share(tmp_path):
    generate(tmp_path, D1, rows=500)
    generate(tmp_path, D2, rows=500)
    fx1 = set(data_lines(folder(tmp_path, "fx_rates", D1)))
    fx2 = set(data_lines(folder(tmp_path, "fx_rates", D2)))
    assert len(fx1 & fx2) == (30 - 1) * len(FX_BASE)
    pay1 = {
        r[0]: r for r in csv.reader(data_lines(folder(tmp_path, "payments", D1))) if len(r) == 6
    }
    pay2 = {
        r[0]: r for r in csv.reader(data_lines(folder(tmp_path, "payments", D2))) if len(r) == 6
    }
    shared = pay1.keys() & pay2.keys()
    assert shared
    assert all(pay1[k][1:4] + pay1[k][5:] == pay2[k][1:4] + pay2[k][5:] for k in shared)
    assert all(pay1[k][4] == pay2[k][4] or pay1[k][4] == "paid" for k in shared)


def test_too_few_rows_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"^rows must be at least 400 for the ads domain, got 5$"):
        generate(tmp_path, D1, rows=5)
