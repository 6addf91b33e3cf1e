"""The ads pipeline end to end on two generated ingest dates: accounting against the generator's
manifests, unknown currencies quarantined, latest payment snapshot wins, idempotent re-run."""

from __future__ import annotations

import csv
import dataclasses
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.ads.generate import FX_BASE, generate, read_manifest
from lakejobs.catalog import Catalog
from lakejobs.contracts import table_contract
from lakejobs.lake import LakeLayout
from lakejobs.pipeline import PipelineResult, run_jobs, select_jobs
from tests.conftest import TEST_SETTINGS

pytestmark = pytest.mark.integration

D1, D2 = date(2026, 11, 20), date(2026, 11, 21)
ROWS = 800
OUTPUTS = (
    "ads.fx_rates",
    "ads.payments",
    "ads.installs",
    "ads.spend_daily",
    "ads.spend_daily_quarantine",
    "ads.campaign_roas_daily",
    "ads.creative_ab_test",
)
INGESTS = {
    "ads.ingest_spend": ("facebook_spend", "google_spend"),
    "ads.ingest_payments": ("payments",),
    "ads.ingest_installs": ("installs",),
    "ads.ingest_fx": ("fx_rates",),
}


def settings_for(lake: Path):
    return dataclasses.replace(TEST_SETTINGS, lake=str(lake))


def run_ads(spark, lake: Path, day: date, force: bool = False) -> PipelineResult:
    return run_jobs(
        spark, settings_for(lake), select_jobs("ads"), day, echo=lambda line: None, force=force
    )


def table(spark, lake: Path, name: str) -> DataFrame:
    location = Catalog(spark, LakeLayout(settings_for(lake).lake)).location(table_contract(name))
    return spark.read.format("delta").load(location)


def manifest(lake: Path, source: str, day: date) -> dict:
    return read_manifest(lake / "raw" / source / f"ingest_date={day.isoformat()}")


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ads-lake")
    for day in (D1, D2):
        generate(root, day, rows=ROWS)
        result = run_ads(spark, root, day)
        assert result.failed == () and result.skipped == (), result
    return root


@pytest.fixture(scope="module")
def runs(spark, lake) -> dict[tuple[str, date], dict]:
    log = table(spark, lake, "lakejobs.job_runs").orderBy("started_at").collect()
    return {(row["job"], row["run_date"]): row.asDict() for row in log}


def test_jobs_run_in_the_order_their_inputs_and_outputs_imply():
    order = [job.name for job in select_jobs("ads")]
    assert set(order) == {*INGESTS, "ads.campaign_roas", "ads.creative_ab_test"}
    assert order.index("ads.ingest_fx") < order.index("ads.ingest_spend")
    for ingest in INGESTS:
        assert order.index(ingest) < order.index("ads.campaign_roas")
    assert order.index("ads.ingest_spend") < order.index("ads.creative_ab_test")


@pytest.mark.parametrize("job", sorted(INGESTS))
def test_ingest_accounting_matches_what_the_generator_injected(runs, lake, job):
    for day in (D1, D2):
        run = runs[(job, day)]
        manifests = [manifest(lake, source, day) for source in INGESTS[job]]
        assert run["status"] == "succeeded"
        assert run["rows_in"] == sum(m["data_rows"] for m in manifests)
        assert run["rows_quarantined"] == sum(sum(m["quarantine"].values()) for m in manifests)
        assert run["rows_duplicates"] == sum(m["duplicates"] for m in manifests)
        assert run["rows_written"] == sum(m["clean_rows"] for m in manifests)


def test_unknown_currencies_are_quarantined_with_their_reason_never_converted(spark, lake):
    quarantine = table(spark, lake, "ads.spend_daily_quarantine")
    for day in (D1, D2):
        expected: dict[tuple[str, ...], int] = {}
        for source in INGESTS["ads.ingest_spend"]:
            for reason, count in manifest(lake, source, day)["quarantine"].items():
                expected[(reason,)] = expected.get((reason,), 0) + count
        rows = quarantine.where(F.col("ingest_date") == F.lit(day)).groupBy("reasons").count()
        assert {tuple(r["reasons"]): r["count"] for r in rows.collect()} == expected
    spend = table(spark, lake, "ads.spend_daily")
    assert {r[0] for r in spend.select("currency").distinct().collect()} <= set(FX_BASE)
    assert spend.where("usd_rate IS NULL OR spend_usd IS NULL").isEmpty()
    assert sorted(r[0] for r in spend.select("date").distinct().collect()) == [
        date(2026, 11, 19),
        date(2026, 11, 20),
    ]


def test_the_latest_payment_snapshot_wins(spark, lake):
    statuses: dict[str, str] = {}
    for day in (D1, D2):  # later snapshots overwrite earlier ones
        path = next((lake / "raw" / "payments" / f"ingest_date={day}").glob("*.csv"))
        with path.open(encoding="utf-8") as lines:
            statuses |= {
                r[0]: r[4] for r in csv.reader(lines) if len(r) == 6 and r[0] != "payment_id"
            }
    curated = {
        r[0]: r[1]
        for r in table(spark, lake, "ads.payments").select("payment_id", "status").collect()
    }
    assert curated == statuses


def test_aggregates_account_for_every_input_row_and_flag_low_roas(spark, lake, runs):
    for job in ("ads.campaign_roas", "ads.creative_ab_test"):
        for day in (D1, D2):
            run = runs[(job, day)]
            assert run["status"] == "succeeded" and run["rows_in"] == run["rows_written"] > 0
    roas = table(spark, lake, "ads.campaign_roas_daily")
    assert roas.where("below_floor != (roas < roas_floor)").isEmpty()
    assert roas.where("roas_floor != 1.0").isEmpty()
    spend = table(spark, lake, "ads.spend_daily")
    total = roas.agg(F.sum("spend_usd"), F.sum("spend_rows")).first()
    assert tuple(total) == tuple(spend.agg(F.sum("spend_usd"), F.count(F.lit(1))).first())
    installs = table(spark, lake, "ads.installs").count()
    assert roas.agg(F.sum("installs")).first()[0] == installs
    tests = table(spark, lake, "ads.creative_ab_test")
    assert (
        tests.groupBy("campaign_id")
        .agg(F.sum(F.col("is_control").cast("int")).alias("n"))
        .where("n != 1")
        .isEmpty()
    )
    assert tests.where("winner").count() >= 1


def test_rerunning_a_date_gives_identical_content_except_the_run_id(spark, lake):
    before = {t: table(spark, lake, t).drop("run_id").localCheckpoint() for t in OUTPUTS}
    result = run_ads(spark, lake, D2, force=True)
    assert result.failed == () and len(result.records) == 6
    for name in OUTPUTS:
        after = table(spark, lake, name).drop("run_id")
        assert after.exceptAll(before[name]).isEmpty(), name
        assert before[name].exceptAll(after).isEmpty(), name


def test_a_failing_table_level_expectation_writes_nothing(spark, lake):
    tables = Catalog(spark, LakeLayout(settings_for(lake).lake))
    outputs = [table_contract(n) for n in ("ads.spend_daily", "ads.spend_daily_quarantine")]
    before = [tables.version(c) for c in outputs]
    strict = dataclasses.replace(settings_for(lake), max_quarantine_share=0.01)
    result = run_jobs(
        spark, strict, select_jobs("ads.ingest_spend"), D2, echo=lambda line: None, force=True
    )
    assert result.failed == ("ads.ingest_spend",)
    assert "quarantine_share" in result.records[0].error
    assert "nothing written" in result.records[0].error
    assert [tables.version(c) for c in outputs] == before
