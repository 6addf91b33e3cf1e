"""Raw ads deliveries for one ingest date: spend from two media, installs, payments and FX rates.

A small simulated world, seeded per calendar day so that any ingest date can be generated alone
and still agrees with the others: the spend of day d, the users it brought in and their payments
are the same whichever delivery shows them. An ingest date D delivers
- `facebook_spend` (JSON lines, two API pages) and `google_spend` (CSV) of day D-1,
- `installs` attributed on day D-1,
- `payments`: the MySQL snapshot of payments made in the 14 days before D, with their status as
  of D (a payment refunded since an earlier snapshot shows up as `refunded`),
- `fx_rates` for the 30 days before D (no ARS, no VND: those campaigns' rows are quarantined).
Each folder gets `_manifest.json` counting the lines and the problems injected, so tests can
check the jobs' accounting exactly. Pure Python + numpy: the default 2,500 lines take a fraction
of a second, 10^6 lines about 10 s of CPU.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lakejobs.errors import UsageError

SOURCES = ("facebook_spend", "google_spend", "payments", "installs", "fx_rates")
MANIFEST = "_manifest.json"
PAYMENT_SNAPSHOT_DAYS = 14
FX_DAYS = 30
MAX_PAYMENT_DELAY_DAYS = 12.9
PAYMENTS_PER_PAYER = 1.8  # 1 + Poisson(0.8)
UNKNOWN_CURRENCY = "unknown_currency:currency"

# USD per unit, around which each day's rate moves; the FX feed lists FX_BASE only, so spend
# billed in ARS or VND has no rate.
FX_BASE = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0066, "KRW": 0.00072}
MARKET_RATES = {**FX_BASE, "ARS": 0.0011, "VND": 0.000039}
INSTALL_ACTION = "mobile_app_install"
PRICES = {
    "USD": (0.99, 4.99, 9.99, 19.99),
    "EUR": (0.99, 4.99, 9.99, 19.99),
    "JPY": (160.0, 800.0, 1600.0, 3000.0),
    "KRW": (1200.0, 5900.0, 12000.0, 25000.0),
}
CLICK_TO_INSTALL = 0.1
ATTRIBUTED_SHARE = 0.92  # the MMP attributes a little less than the media claim
PAYER_SHARE = 0.25
FAILED_SHARE = 0.07
REFUND_SHARE = 0.05
# Lines of a delivery: FX and spend lines are fixed; each daily install brings its own line and,
# over the snapshot's days, the payments of a day's cohort.
FIXED_LINES = FX_DAYS * len(FX_BASE) + 50
LINES_PER_INSTALL = 1 + PAYMENT_SNAPSHOT_DAYS * PAYER_SHARE * PAYMENTS_PER_PAYER
DEFAULT_ROWS = 2_500
MIN_ROWS = 400


@dataclass(frozen=True)
class Campaign:
    """A campaign and its creative variants (variant A is the control)."""

    media: str
    campaign_id: str
    name: str
    currency: str
    ctrs: tuple[float, ...]  # true CTR per creative variant
    ad_groups: int
    attributed: bool = True  # False: a new market whose attribution is not set up yet

    def creative(self, variant: int) -> str:
        return f"{self.campaign_id}-{'ABC'[variant]}"

    def ad_group(self, group: int) -> str:
        return f"{self.campaign_id}{group + 1:02d}"


CAMPAIGNS = (
    Campaign("facebook", "23850001", "FB_US_Broad_Install", "USD", (0.012, 0.0165, 0.0121), 3),
    Campaign("facebook", "23850002", "FB_DE_Lookalike", "EUR", (0.015, 0.0152), 3),
    Campaign("facebook", "23850003", "FB_JP_Retarget", "JPY", (0.020, 0.014, 0.0205), 2),
    Campaign("facebook", "23850009", "FB_AR_Launch", "ARS", (0.011, 0.011), 1, attributed=False),
    Campaign("google", "7100001", "GG_US_UAC", "USD", (0.030, 0.031, 0.038), 3),
    Campaign("google", "7100002", "GG_KR_Search", "KRW", (0.041, 0.052), 3),
    Campaign("google", "7100009", "GG_VN_Test", "VND", (0.030,), 1, attributed=False),
)


@dataclass(frozen=True)
class SpendCell:
    """One ad (campaign x ad group x creative) on one day."""

    campaign: Campaign
    group: int
    variant: int
    impressions: int
    clicks: int
    installs: int
    spend: float  # account currency, cents


def fx_rate(day: date, currency: str) -> float:
    """USD per unit on `day`: the same whichever delivery carries it."""
    base = MARKET_RATES[currency]
    if currency == "USD":
        return 1.0
    wobble = np.random.default_rng([day.toordinal(), sum(map(ord, currency))]).normal(0, 0.01)
    return round(float(base * (1 + 0.03 * np.sin(day.toordinal() / 9) + wobble)), 8)


def _day(
    seed: int, day: date, installs_per_day: int
) -> tuple[list[SpendCell], dict[str, np.ndarray]]:
    """Spend cells of `day` and the users they brought, as arrays in install-time order."""
    rng = np.random.default_rng([seed, day.toordinal()])
    cells_total = sum(len(c.ctrs) * c.ad_groups for c in CAMPAIGNS if c.attributed)
    mean_ctr = float(np.mean([ctr for c in CAMPAIGNS for ctr in c.ctrs]))
    base = installs_per_day / (cells_total * mean_ctr * CLICK_TO_INSTALL * ATTRIBUTED_SHARE)
    cells: list[SpendCell] = []
    attributed: list[tuple[Campaign, int]] = []
    for campaign in CAMPAIGNS:
        cpm_usd = rng.uniform(6, 14)
        rate = fx_rate(day, campaign.currency)
        for group in range(campaign.ad_groups):
            group_factor = rng.uniform(0.85, 1.15)  # the audience, the same for every variant
            for variant, ctr in enumerate(campaign.ctrs):
                impressions = int(rng.poisson(base * rng.uniform(0.7, 1.3)))
                clicks = int(rng.binomial(impressions, min(ctr * group_factor, 1.0)))
                installs = int(rng.binomial(clicks, CLICK_TO_INSTALL))
                spend = round(impressions / 1000 * cpm_usd / rate, 2)
                cells.append(
                    SpendCell(campaign, group, variant, impressions, clicks, installs, spend)
                )
                if campaign.attributed:
                    attributed.append((campaign, int(rng.binomial(installs, ATTRIBUTED_SHARE))))
    counts = np.array([count for _, count in attributed], dtype=np.int64)
    seconds = np.sort(rng.integers(0, 86_400, int(counts.sum())))
    users = {
        name: np.repeat(np.array([getattr(c, name) for c, _ in attributed]), counts)
        for name in ("media", "campaign_id", "currency")
    }
    users["time"] = np.datetime64(day.isoformat(), "s") + seconds.astype("timedelta64[s]")
    users["user_id"] = np.char.add(
        f"u{day:%Y%m%d}", np.char.zfill(np.arange(seconds.size).astype(str), 6)
    )
    return cells, users


def _payments(seed: int, day: date, users: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every payment the users installed on `day` will ever make, with refund times."""
    rng = np.random.default_rng([seed, day.toordinal(), 1])
    payers = np.flatnonzero(rng.random(users["user_id"].size) < PAYER_SHARE)
    counts = 1 + rng.poisson(PAYMENTS_PER_PAYER - 1, payers.size)
    user = np.repeat(payers, counts)
    delay = (np.minimum(rng.exponential(2.5, user.size), MAX_PAYMENT_DELAY_DAYS) * 86_400).astype(
        np.int64
    )
    order = np.lexsort((delay, user))
    user, delay = user[order], delay[order]
    nth = np.arange(user.size) - np.repeat(np.cumsum(counts) - counts, counts)
    paid_at = users["time"][user] + delay.astype("timedelta64[s]")
    failed = rng.random(user.size) < FAILED_SHARE
    refunded = ~failed & (rng.random(user.size) < REFUND_SHARE)
    refund_delay = (rng.integers(1, 6, user.size) * 86_400).astype("timedelta64[s]")
    currency = users["currency"][user]
    price = rng.integers(0, len(PRICES["USD"]), user.size)
    amount = np.zeros(user.size)
    for code, points in PRICES.items():
        mine = currency == code
        amount[mine] = np.array(points)[price[mine]]
    return {
        "payment_id": np.char.add(
            np.char.replace(users["user_id"][user], "u", "p"), nth.astype(str)
        ),
        "user_id": users["user_id"][user],
        "amount": amount,
        "currency": currency,
        "paid_at": paid_at,
        "failed": failed,
        "refund_at": np.where(refunded, paid_at + refund_delay, np.datetime64("NaT")),
    }


def _folder(lake_dir: Path, source: str, ingest_date: date) -> Path:
    directory = Path(lake_dir) / "raw" / source / f"ingest_date={ingest_date.isoformat()}"
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


def _manifest(
    directory: Path,
    source: str,
    ingest_date: date,
    files: list[str],
    data_rows: int,
    quarantine: dict[str, int],
    duplicates: int,
    counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    fields = {
        "source": source,
        "ingest_date": ingest_date.isoformat(),
        "files": files,
        "data_rows": data_rows,
        "quarantine": {k: v for k, v in quarantine.items() if v},
        "duplicates": duplicates,
        "clean_rows": data_rows - sum(quarantine.values()) - duplicates,
        "counts": counts or {},
    }
    (directory / MANIFEST).write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
    return fields


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest a `generate` call wrote into a raw folder."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise UsageError(f"no generator manifest {MANIFEST} in {directory}")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def _facebook(
    lake_dir: Path, ingest_date: date, day: date, cells: list[SpendCell]
) -> dict[str, Any]:
    records = []
    for cell in (c for c in cells if c.campaign.media == "facebook"):
        adset = cell.campaign.ad_group(cell.group)
        actions = [{"action_type": "link_click", "value": str(cell.clicks)}]
        if cell.installs:
            actions.append({"action_type": INSTALL_ACTION, "value": str(cell.installs)})
        actions.append({"action_type": "video_view", "value": str(cell.impressions // 7)})
        records.append(
            json.dumps(
                {
                    "date": day.isoformat(),
                    "campaign_id": cell.campaign.campaign_id,
                    "campaign_name": cell.campaign.name,
                    "adset_id": adset,
                    "ad_id": f"{adset}{cell.variant + 1}",
                    "creative_id": cell.campaign.creative(cell.variant),
                    "spend": f"{cell.spend:.2f}",
                    "impressions": str(cell.impressions),
                    "clicks": str(cell.clicks),
                    "actions": actions,
                    "account_currency": cell.campaign.currency,
                }
            )
        )
    unknown = sum(
        c.campaign.currency not in FX_BASE for c in cells if c.campaign.media == "facebook"
    )
    half = len(records) // 2
    # API pages overlap by one record (a duplicate); the last page ends in a cut-off line.
    pages = [records[:half], [records[half - 1], *records[half:], records[3][:57]]]
    directory = _folder(lake_dir, "facebook_spend", ingest_date)
    files = []
    for index, page in enumerate(pages):
        name = f"facebook_insights_{ingest_date:%Y%m%d}_page{index + 1}.jsonl"
        (directory / name).write_text("\n".join(page) + "\n", encoding="utf-8")
        files.append(name)
    return _manifest(
        directory,
        "facebook_spend",
        ingest_date,
        files,
        data_rows=len(records) + 2,
        quarantine={"malformed": 1, UNKNOWN_CURRENCY: unknown},
        duplicates=1,
    )


def _google(lake_dir: Path, ingest_date: date, day: date, cells: list[SpendCell]) -> dict[str, Any]:
    header = "day,campaign_id,campaign_name,ad_group_id,ad_id,cost_micros,impressions,clicks,conversions,currency"
    lines = [
        ",".join(
            [
                day.isoformat(),
                cell.campaign.campaign_id,
                f'"{cell.campaign.name}"',
                cell.campaign.ad_group(cell.group),
                cell.campaign.creative(cell.variant),
                str(round(cell.spend * 100) * 10_000),
                str(cell.impressions),
                str(cell.clicks),
                str(cell.installs),
                cell.campaign.currency,
            ]
        )
        for cell in cells
        if cell.campaign.media == "google"
    ]
    unknown = sum(c.campaign.currency not in FX_BASE for c in cells if c.campaign.media == "google")
    lines = [*lines, lines[2], ",".join(lines[4].split(",")[:5])]  # a repeated row, a cut row
    directory = _folder(lake_dir, "google_spend", ingest_date)
    name = f"google_ads_ad_report_{ingest_date:%Y%m%d}.csv"
    (directory / name).write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return _manifest(
        directory,
        "google_spend",
        ingest_date,
        [name],
        data_rows=len(lines),
        quarantine={"malformed": 1, UNKNOWN_CURRENCY: unknown},
        duplicates=1,
    )


def _timestamps(times: np.ndarray) -> np.ndarray:
    return np.char.replace(np.datetime_as_string(times, unit="s"), "T", " ")


def _installs(lake_dir: Path, ingest_date: date, users: dict[str, np.ndarray]) -> dict[str, Any]:
    lines = [
        ",".join(fields)
        for fields in zip(
            users["user_id"],
            _timestamps(users["time"]),
            users["media"],
            users["campaign_id"],
            strict=True,
        )
    ]
    # Two postbacks delivered twice, one line mangled by the exporter.
    lines = [*lines, lines[0], lines[len(lines) // 2], lines[1].replace(",", ";")]
    directory = _folder(lake_dir, "installs", ingest_date)
    name = f"installs_{ingest_date:%Y%m%d}.csv"
    text = "\n".join(["user_id,install_time,media_source,campaign_id", *lines]) + "\n"
    (directory / name).write_text(text, encoding="utf-8")
    return _manifest(
        directory, "installs", ingest_date, [name], len(lines), {"malformed": 1}, duplicates=2
    )


def _payments_snapshot(
    lake_dir: Path, ingest_date: date, payments: dict[str, np.ndarray]
) -> dict[str, Any]:
    end = np.datetime64(ingest_date.isoformat(), "s")
    start = end - np.timedelta64(PAYMENT_SNAPSHOT_DAYS, "D")
    shown = (payments["paid_at"] >= start) & (payments["paid_at"] < end)
    p = {name: values[shown] for name, values in payments.items()}
    order = np.argsort(p["payment_id"], kind="stable")
    p = {name: values[order] for name, values in p.items()}
    refunded = p["refund_at"] < end  # NaT compares False: never refunded
    status = np.where(p["failed"], "failed", np.where(refunded, "refunded", "paid"))
    lines = [
        f"{pid},{user},{amount:.2f},{currency},{state},{paid_at}"
        for pid, user, amount, currency, state, paid_at in zip(
            p["payment_id"],
            p["user_id"],
            p["amount"],
            p["currency"],
            status,
            _timestamps(p["paid_at"]),
            strict=True,
        )
    ]
    # The export repeats two rows across its chunks and truncates one.
    lines = [*lines, lines[1], lines[-2], lines[3].rsplit(",", 2)[0]]
    directory = _folder(lake_dir, "payments", ingest_date)
    name = f"payments_snapshot_{ingest_date:%Y%m%d}.csv"
    header = "payment_id,user_id,amount,currency,status,paid_at"
    (directory / name).write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    counts = {s: int((status == s).sum()) for s in ("paid", "refunded", "failed")}
    return _manifest(
        directory, "payments", ingest_date, [name], len(lines), {"malformed": 1}, 2, counts
    )


def _fx(lake_dir: Path, ingest_date: date) -> dict[str, Any]:
    days = [ingest_date - timedelta(days=k) for k in range(FX_DAYS, 0, -1)]
    lines = [f"{d.isoformat()},{c},{fx_rate(d, c):.8f}" for d in days for c in FX_BASE]
    directory = _folder(lake_dir, "fx_rates", ingest_date)
    name = f"fx_rates_{ingest_date:%Y%m%d}.csv"
    (directory / name).write_text("\n".join(["date,currency,usd_rate", *lines]) + "\n", "utf-8")
    return _manifest(directory, "fx_rates", ingest_date, [name], len(lines), {}, 0)


def generate(lake_dir: Path, ingest_date: date, *, rows: int | None = None, seed: int = 7) -> str:
    """Write the five raw ads sources of `ingest_date` under `lake_dir`, replacing earlier runs.

    `rows` is about how many data lines the five sources hold together (default 2,500); the
    installs per day, and the payments and A/B volumes with them, follow from it. Returns a
    one-line summary.
    """
    rows = DEFAULT_ROWS if rows is None else rows
    if rows < MIN_ROWS:
        raise UsageError(f"rows must be at least {MIN_ROWS} for the ads domain, got {rows}")
    per_day = round((rows - FIXED_LINES) / LINES_PER_INSTALL)
    yesterday = ingest_date - timedelta(days=1)
    cells, installs = _day(seed, yesterday, per_day)
    cohorts = []
    for back in range(1, PAYMENT_SNAPSHOT_DAYS + int(MAX_PAYMENT_DELAY_DAYS) + 2):
        day = ingest_date - timedelta(days=back)
        cohorts.append(_payments(seed, day, installs if back == 1 else _day(seed, day, per_day)[1]))
    payments = {name: np.concatenate([c[name] for c in cohorts]) for name in cohorts[0]}
    manifests = [
        _facebook(lake_dir, ingest_date, yesterday, cells),
        _google(lake_dir, ingest_date, yesterday, cells),
        _payments_snapshot(lake_dir, ingest_date, payments),
        _installs(lake_dir, ingest_date, installs),
        _fx(lake_dir, ingest_date),
    ]
    parts = ", ".join(
        f"{m['source']} {m['data_rows']} lines ({sum(m['quarantine'].values())} bad, "
        f"{m['duplicates']} dup)"
        for m in manifests
    )
    return f"ads raw for {ingest_date.isoformat()} (seed {seed}): {parts}"
