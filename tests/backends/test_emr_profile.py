"""The `emr` profile prints a complete spark-submit command. EMR itself is not exercised here:
these tests check the command that would be given to an EMR step, nothing more."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from tests.backends.clusters import REPO_ROOT

pytestmark = pytest.mark.yarn


def dry_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(REPO_ROOT / "spark-submit.sh"), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_emr_profile_dry_run_prints_the_full_command():
    result = dry_run("--profile", "emr", "--dry-run", "jobs/exams/grade.py", "--date", "2026-11-20")
    assert result.returncode == 0, result.stderr
    argv = shlex.split(result.stdout)
    assert argv[0].endswith("spark-submit")
    assert argv[argv.index("--master") + 1] == "yarn"
    assert argv[argv.index("--py-files") + 1].endswith("lakejobs.zip")
    conf = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--conf")
    assert conf["spark.sql.shuffle.partitions"] == "400"  # the profile's own Spark settings
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.hadoop.hive.metastore.client.factory.class"].startswith(
        "com.amazonaws.glue.catalog"
    )  # metastore = "glue"
    jars = argv[argv.index("--jars") + 1].split(",")
    assert any("delta-spark_" in j for j in jars)
    # s3:// is EMRFS on EMR: the cluster's own S3 filesystem and SDK, so no hadoop-aws is shipped.
    assert not any("hadoop-aws" in j or "/s3-2" in j for j in jars)
    assert argv[-7:] == [
        "jobs/exams/grade.py",
        "--lake",
        "s3://my-company-lake",
        "--profile",
        "emr",
        "--date",
        "2026-11-20",
    ]


def test_extra_conf_comes_after_the_profile_and_is_checked():
    ok = dry_run(
        "--profile",
        "emr",
        "--conf",
        "spark.sql.shuffle.partitions=50",
        "--dry-run",
        "jobs/exams/grade.py",
        "--date",
        "2026-11-20",
    )
    assert ok.returncode == 0, ok.stderr
    argv = shlex.split(ok.stdout)
    values = [argv[i + 1] for i, a in enumerate(argv) if a == "--conf"]
    assert values.index("spark.sql.shuffle.partitions=50") > values.index(
        "spark.sql.shuffle.partitions=400"
    )  # spark-submit keeps the last value
    bad = dry_run("--conf", "novalue", "--dry-run", "jobs/exams/grade.py")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "spark-submit.sh: error: --conf expects KEY=VALUE, got 'novalue'"
