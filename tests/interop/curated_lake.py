"""One small generated lake with every domain's curated tables, shared by the notebooks, BI and
interop tests (written once per pytest process through the shared SparkSession).

The shared session keeps its metastore in memory (derby-memory), so the lake's own
`<lake>/_metastore` stays free for the JVMs the notebooks and the Thrift Server start.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

import jobs.ads.generate as ads
import jobs.events.generate as events
from jobs.exams.generate import generate_exam_scores
from lakejobs.pipeline import run_jobs, select_jobs
from lakejobs.pseudonym import KEY_ENV
from tests.conftest import TEST_SETTINGS

EXAMS_DATE = date(2026, 11, 20)
# Spend is one day per delivery: two deliveries make a (short) time series.
ADS_DATES = (date(2026, 11, 19), date(2026, 11, 20))
# One delivery already spans six event dates (late events), enough for a retention grid.
EVENTS_DATES = (date(2026, 11, 20),)
EXAM_ROWS = 3_000
ADS_ROWS = 600
EVENT_ROWS = 1_500
PSEUDONYM_KEY = "notebook-bi-interop-test-key"

_BUILT: dict[str, Path] = {}


def _run(spark, lake: Path, target: str, day: date) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, lake=str(lake))
    result = run_jobs(spark, settings, select_jobs(target), day, echo=lambda line: None)
    assert result.failed == () and result.skipped == (), result.records


def build_curated_lake(spark, root: Path) -> Path:
    """Generate raw deliveries for all three domains and run their jobs (memoised per process,
    because each test package's conftest asks for it)."""
    if "lake" in _BUILT:
        return _BUILT["lake"]
    generate_exam_scores(root, EXAMS_DATE, EXAM_ROWS, dirty_share=0.02)
    _run(spark, root, "exams", EXAMS_DATE)
    for day in ADS_DATES:
        ads.generate(root, day, rows=ADS_ROWS)
        _run(spark, root, "ads", day)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, PSEUDONYM_KEY)
        for day in EVENTS_DATES:
            events.generate(root, day, rows=EVENT_ROWS)
            _run(spark, root, "events", day)
    _BUILT["lake"] = root
    return root


@pytest.fixture(scope="session")
def curated_lake(spark, tmp_path_factory) -> Path:
    """The shared lake: `<lake>/curated/<db>/<table>` for exams, ads and events."""
    if "lake" in _BUILT:
        return _BUILT["lake"]
    return build_curated_lake(spark, tmp_path_factory.mktemp("issue6-lake"))
