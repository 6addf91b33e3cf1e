"""The exams pipeline on HDFS and through `spark-submit --master yarn`, on Hadoop's mini cluster:
same job code, same output as the local run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends.clusters import MiniHadoop
from tests.backends.support import (
    INGEST_OUTPUTS,
    RUN_DATE,
    assert_exams_pipeline_matches_local,
    assert_same_tables,
    job_file,
    job_succeeded,
    python_conf,
    spark_submit,
    upload_raw,
    yarn_conf,
)


@pytest.mark.hdfs
def test_exams_pipeline_on_hdfs_matches_the_local_run(
    spark, mini_hadoop: MiniHadoop, exams_raw: Path, exams_reference: str
):
    lake = f"{mini_hadoop.namenode}/lake"
    assert_exams_pipeline_matches_local(spark, exams_raw, lake, exams_reference)


@pytest.mark.hdfs
@pytest.mark.yarn
def test_spark_submit_on_yarn_writes_the_same_table_as_the_local_run(
    spark, mini_hadoop: MiniHadoop, exams_raw: Path, exams_reference: str, tmp_path: Path
):
    lake = f"{mini_hadoop.namenode}/lake-yarn"
    upload_raw(spark, exams_raw, lake)
    result = spark_submit(
        [
            "--master",
            "yarn",
            "--lake",
            lake,
            *python_conf(),
            *yarn_conf(),
            job_file("exams/ingest_scores.py"),
            "--date",
            str(RUN_DATE),
        ],
        cwd=tmp_path,  # its Derby metastore goes to ./.lakejobs-metastore
        env=mini_hadoop.env(),
    )
    assert job_succeeded(result, "exams.ingest_scores"), result.stderr[-3000:]
    ran = [(a["name"], a["finalStatus"]) for a in mini_hadoop.applications()]
    # It really ran on YARN (the only application), under the job's own name.
    assert ran == [("lakejobs:ingest_scores", "SUCCEEDED")]
    assert_same_tables(spark, exams_reference, lake, INGEST_OUTPUTS)
