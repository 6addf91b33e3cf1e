"""Session fixtures that start real distributed components on 127.0.0.1 and always stop them.

A component that cannot run on this machine (its jars were not bootstrapped, no Java) makes its
tests skip with the reason; one that fails to start fails them with its log's tail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.exams.generate import generate_exam_scores
from tests.backends import clusters
from tests.backends.support import ROWS, RUN_DATE, S3_BUCKET, run_exams, settings_for


@pytest.fixture(scope="session")
def exams_raw(tmp_path_factory) -> Path:
    """A small generated (somewhat dirty) local raw lake that every backend test copies."""
    root = tmp_path_factory.mktemp("backends-raw")
    generate_exam_scores(root, RUN_DATE, ROWS, dirty_share=0.05)
    return root


@pytest.fixture(scope="session")
def exams_reference(spark, exams_raw: Path, tmp_path_factory) -> str:
    """The exams pipeline run locally on that raw lake: the output every backend must match."""
    lake = tmp_path_factory.mktemp("backends-reference")
    shutil.copytree(exams_raw / "raw", lake / "raw")
    result = run_exams(spark, str(lake))
    assert result.failed == () and result.skipped == (), result
    return settings_for(str(lake)).lake


def _start_or_skip(start, *args):
    try:
        return start(*args)
    except clusters.ComponentUnavailable as exc:
        pytest.skip(f"cannot run here: {exc}")


@pytest.fixture(scope="session")
def mini_hadoop(tmp_path_factory) -> Iterator[clusters.MiniHadoop]:
    """HDFS + YARN (Hadoop's mini cluster) for the whole run."""
    cluster = _start_or_skip(clusters.start_mini_hadoop, tmp_path_factory.mktemp("minihadoop"))
    try:
        yield cluster
    finally:
        clusters.stop_mini_hadoop(cluster)


@pytest.fixture(scope="session")
def s3_server(spark, tmp_path_factory) -> Iterator[clusters.S3Server]:
    """s3proxy with bucket `lakejobs-test`; the shared session's S3A is pointed at it."""
    server = _start_or_skip(
        clusters.start_s3proxy, tmp_path_factory.mktemp("s3proxy"), [S3_BUCKET], os.environ
    )
    try:
        hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
        for key, value in server.hadoop_conf(S3_BUCKET).items():
            hadoop_conf.set(key, value)
        yield server
    finally:
        clusters.stop_s3proxy(server)


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory) -> Iterator[clusters.Standalone]:
    """A Spark standalone master with two 1-core, 1g workers."""
    cluster = _start_or_skip(clusters.start_standalone, tmp_path_factory.mktemp("standalone"))
    try:
        yield cluster
    finally:
        clusters.stop_standalone(cluster)
