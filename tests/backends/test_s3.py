"""The exams pipeline on s3a:// against a real S3-compatible server (s3proxy) on 127.0.0.1, with
path-style access and credentials from the environment: same output as the local run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.backends.clusters import S3Server
from tests.backends.support import (
    S3_BUCKET,
    assert_exams_pipeline_matches_local,
)

pytestmark = pytest.mark.s3


def test_exams_pipeline_on_s3a_matches_the_local_run(
    spark, s3_server: S3Server, exams_raw: Path, exams_reference: str
):
    lake = f"s3a://{S3_BUCKET}/lake"
    assert_exams_pipeline_matches_local(spark, exams_raw, lake, exams_reference)
    # The objects really are in the server's store (its filesystem backend), Delta log included.
    stored = s3_server.workdir / "buckets" / S3_BUCKET / "lake" / "curated" / "exams" / "grades"
    assert any((stored / "_delta_log").glob("*.json"))


def test_credentials_come_from_the_environment_not_the_config():
    config = (Path(__file__).resolve().parents[2] / "lakejobs.toml").read_text()
    assert os.environ["AWS_ACCESS_KEY_ID"] not in config
    assert "fs.s3a.access.key" not in config and "fs.s3a.secret.key" not in config
