from __future__ import annotations

from pathlib import Path

import pytest

from lakejobs.config import Settings, load_settings, normalize_lake
from lakejobs.errors import UsageError

CONFIG = """
[defaults]
max_quarantine_share = 0.1

[profiles.local]
master = "local[2]"
lake = "lake"
metastore = "derby"

[profiles.cluster]
master = "yarn"
lake = "hdfs:///data/lake"
metastore = "derby"
max_quarantine_share = 0.3
[profiles.cluster.spark]
"spark.sql.shuffle.partitions" = 400
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "lakejobs.toml"
    path.write_text(CONFIG)
    return path


def test_relative_lake_in_config_resolves_against_the_config_file(config_file: Path):
    settings = load_settings(env={"LAKEJOBS_CONFIG": str(config_file)})
    assert settings.lake == f"file:{config_file.parent / 'lake'}"
    assert settings.master == "local[2]"
    assert settings.max_quarantine_share == 0.1


def test_environment_overrides_profile_and_flags_override_environment(config_file: Path, tmp_path):
    env = {
        "LAKEJOBS_CONFIG": str(config_file),
        "LAKEJOBS_PROFILE": "cluster",
        "LAKEJOBS_LAKE": "s3a://bucket/lake/",
        "LAKEJOBS_MASTER": "spark://127.0.0.1:7077",
    }
    settings = load_settings(env=env)
    assert (settings.profile, settings.lake, settings.master) == (
        "cluster",
        "s3a://bucket/lake",
        "spark://127.0.0.1:7077",
    )
    assert settings.spark_conf["spark.sql.shuffle.partitions"] == "400"
    assert settings.max_quarantine_share == 0.3
    flagged = load_settings(profile="local", lake=str(tmp_path / "x"), env=env)
    assert flagged.lake == f"file:{tmp_path / 'x'}"


def test_unknown_profile_names_the_known_ones(config_file: Path):
    with pytest.raises(
        UsageError, match=r"^unknown profile 'prod' \(known: cluster, local; defined in "
    ):
        load_settings(profile="prod", env={"LAKEJOBS_CONFIG": str(config_file)})


def test_profile_names_that_could_reach_paths_are_rejected(config_file: Path):
    with pytest.raises(UsageError, match=r"^invalid profile name '../etc'$"):
        load_settings(profile="../etc", env={"LAKEJOBS_CONFIG": str(config_file)})


@pytest.mark.parametrize(
    ("lake", "expected"),
    [
        ("hdfs://127.0.0.1:9000/lake/", "hdfs://127.0.0.1:9000/lake"),
        ("s3a://bucket/lake", "s3a://bucket/lake"),
        ("file:///tmp/lake", "file:/tmp/lake"),
        ("/tmp/lake/", "file:/tmp/lake"),
    ],
)
def test_lake_uris_are_normalized(lake: str, expected: str):
    assert normalize_lake(lake) == expected


def test_unsupported_lake_scheme_is_a_usage_error():
    with pytest.raises(UsageError, match=r"^lake 'ftp://x/lake': unsupported scheme 'ftp'"):
        normalize_lake("ftp://x/lake")


def test_default_metastore_is_in_memory_and_keeps_derby_out_of_the_jvm(tmp_path: Path):
    from lakejobs.session import spark_conf

    settings = Settings(profile="t", lake=str(tmp_path), master="local[1]")
    assert settings.metastore == "in-memory"
    conf = spark_conf(settings)
    assert conf["spark.sql.catalogImplementation"] == "in-memory"
    assert "javax.jdo.option.ConnectionURL" not in " ".join(conf)
    assert "derby.system.home" not in conf["spark.driver.extraJavaOptions"]


def test_the_shipped_profiles_keep_jobs_out_of_a_metastore_except_emr(monkeypatch):
    monkeypatch.delenv("LAKEJOBS_CONFIG", raising=False)
    monkeypatch.delenv("LAKEJOBS_LAKE", raising=False)
    for profile in ("local", "standalone", "yarn", "s3"):
        assert load_settings(profile=profile).metastore == "in-memory"
    assert load_settings(profile="emr").metastore == "glue"


def test_retention_settings_come_from_defaults_and_profiles(tmp_path: Path):
    path = tmp_path / "lakejobs.toml"
    path.write_text(
        CONFIG.replace("[defaults]\n", "[defaults]\nretention_days = 10\nquarantine_days = 90\n")
        + '\n[profiles.short]\nmaster = "local[1]"\nquarantine_days = 3\n'
    )
    env = {"LAKEJOBS_CONFIG": str(path)}
    local = load_settings(env=env)
    assert (local.retention_days, local.quarantine_days) == (10, 90)
    short = load_settings(profile="short", env=env)
    assert (short.retention_days, short.quarantine_days) == (10, 3)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("retention_days", "3", "retention_days must be at least 7"),
        ("retention_days", '"7"', "retention_days must be a whole number of days"),
        ("quarantine_days", "0", "quarantine_days must be a whole number of days, at least 1"),
        ("quarantine_days", "1.5", "quarantine_days must be a whole number of days"),
    ],
)
def test_bad_retention_settings_are_usage_errors(tmp_path: Path, setting, value, message):
    path = tmp_path / "lakejobs.toml"
    path.write_text(CONFIG.replace("[defaults]\n", f"[defaults]\n{setting} = {value}\n"))
    with pytest.raises(UsageError, match=message):
        load_settings(env={"LAKEJOBS_CONFIG": str(path)})
