from __future__ import annotations

import re
from pathlib import Path

import pytest

from lakejobs.config import Settings, load_settings, normalize_lake
from lakejobs.errors import ConfigError, UsageError

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


def test_a_key_a_domain_declares_comes_from_defaults_and_profiles_for_its_jobs(tmp_path: Path):
    path = tmp_path / "lakejobs.toml"
    path.write_text(
        CONFIG.replace("[defaults]\n", '[defaults]\ngrading_scheme = "csat9"\n')
        + '\n[profiles.hs]\nmaster = "local[1]"\ngrading_scheme = "hs5"\n'
    )
    env = {"LAKEJOBS_CONFIG": str(path)}
    assert dict(load_settings(env=env).job_defaults) == {"grading_scheme": "csat9"}
    assert dict(load_settings(profile="hs", env=env).job_defaults) == {"grading_scheme": "hs5"}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("retention_days", "3", "retention_days must be at least 7"),
        ("retention_days", '"7"', "retention_days must be a whole number of days"),
        ("quarantine_days", "0", "quarantine_days must be a whole number of days, at least 1"),
        ("quarantine_days", "1.5", "quarantine_days must be a whole number of days"),
    ],
)
def test_bad_retention_settings_are_config_errors(tmp_path: Path, setting, value, message):
    path = tmp_path / "lakejobs.toml"
    path.write_text(CONFIG.replace("[defaults]\n", f"[defaults]\n{setting} = {value}\n"))
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(env={"LAKEJOBS_CONFIG": str(path)})
    assert str(raised.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("edit", "key", "where"),
    [
        (
            ("[profiles.local]\n", '[profiles.local]\nmastr = "local[1]"\n'),
            "profiles.local.mastr",
            "[profiles.local]",
        ),
        (("[defaults]\n", '[defaults]\nlake = "elsewhere"\n'), "defaults.lake", "[defaults]"),
        (("[defaults]\n", "[default]\nretention_days = 9\n[defaults]\n"), "default", "the file"),
    ],
)
def test_an_unknown_key_in_the_config_file_names_the_file_and_the_key(
    tmp_path: Path, edit: tuple[str, str], key: str, where: str
):
    path = tmp_path / "lakejobs.toml"
    path.write_text(CONFIG.replace(*edit))
    with pytest.raises(ConfigError) as raised:
        load_settings(profile="cluster", env={"LAKEJOBS_CONFIG": str(path)})  # any profile
    assert str(raised.value).startswith(f"{path}: unknown key {key} ({where} takes: ")


def test_spark_settings_of_a_profile_take_any_key(config_file: Path):
    settings = load_settings(profile="cluster", env={"LAKEJOBS_CONFIG": str(config_file)})
    assert dict(settings.spark_conf) == {"spark.sql.shuffle.partitions": "400"}


def test_broken_toml_and_bad_values_name_the_file(tmp_path: Path):
    path = tmp_path / "lakejobs.toml"
    env = {"LAKEJOBS_CONFIG": str(path)}
    path.write_text("[profiles.local\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: invalid TOML: "):
        load_settings(env=env)
    path.write_text(CONFIG.replace('metastore = "derby"', 'metastore = "mysql"', 1))
    with pytest.raises(ConfigError) as raised:
        load_settings(env=env)
    assert str(raised.value).startswith(f"{path}: profile 'local': metastore must be one of ")
    path.write_text(CONFIG.replace('lake = "lake"', 'lake = "ftp://x/lake"'))
    with pytest.raises(
        ConfigError, match=r": profiles\.local\.lake: lake 'ftp://x/lake': unsupported"
    ):
        load_settings(env=env)


def test_a_bad_lake_flag_stays_a_usage_error_not_a_config_error(config_file: Path):
    with pytest.raises(UsageError) as raised:
        load_settings(lake="ftp://x/lake", env={"LAKEJOBS_CONFIG": str(config_file)})
    assert not isinstance(raised.value, ConfigError)


def test_the_cli_reports_a_config_error_in_one_line_with_exit_2(
    tmp_path: Path, monkeypatch, capsys
):
    from lakejobs.cli import main

    path = tmp_path / "lakejobs.toml"
    path.write_text(CONFIG.replace("[profiles.local]\n", '[profiles.local]\nmastr = "x"\n'))
    monkeypatch.setenv("LAKEJOBS_CONFIG", str(path))
    monkeypatch.delenv("LAKEJOBS_PROFILE", raising=False)
    assert main(["tables", "--lake", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lakejobs: error: {path}: unknown key profiles.local.mastr ")
    assert len(err.strip().splitlines()) == 1


def test_schemas_and_jars_folders_come_from_the_config_file_relative_to_it(tmp_path: Path):
    path = tmp_path / "deploy" / "lakejobs.toml"
    path.parent.mkdir()
    path.write_text(
        CONFIG.replace("[defaults]\n", '[defaults]\nschemas_dir = "contracts"\njars_dir = "jvm"\n')
    )
    settings = load_settings(env={"LAKEJOBS_CONFIG": str(path)})
    assert (settings.schemas_dir, settings.jars_dir) == (
        path.parent / "contracts",
        path.parent / "jvm",
    )
    env = {
        "LAKEJOBS_CONFIG": str(path),
        "LAKEJOBS_SCHEMAS": str(tmp_path / "s"),
        "LAKEJOBS_JARS": str(tmp_path / "j"),
    }
    overridden = load_settings(env=env)  # the environment wins over the file
    assert (overridden.schemas_dir, overridden.jars_dir) == (tmp_path / "s", tmp_path / "j")


def test_without_any_setting_the_jars_are_beside_the_config_and_the_contracts_are_package_data(
    config_file: Path,
):
    import jobs

    checkout_jars = Path(__file__).resolve().parents[2] / ".jars"
    env = {"LAKEJOBS_CONFIG": str(config_file)}
    # A config folder without jars of its own: the source checkout's (make bootstrap's).
    assert load_settings(env=env).jars_dir == checkout_jars
    (config_file.parent / ".jars").mkdir()
    settings = load_settings(env=env)
    assert settings.jars_dir == config_file.parent / ".jars"
    assert settings.schemas_dir == Path(jobs.__file__).parent / "schemas"


def test_without_a_config_file_the_source_checkouts_is_used_from_any_folder(
    tmp_path: Path, monkeypatch
):
    from lakejobs.config import checkout_config, config_path, project_dir

    monkeypatch.chdir(tmp_path)
    checkout = Path(__file__).resolve().parents[2]
    assert checkout_config() == checkout / "lakejobs.toml"
    assert config_path(env={}) == checkout / "lakejobs.toml"
    assert project_dir(env={}) == checkout
    assert load_settings(env={}).jars_dir == checkout / ".jars"


def test_install_folders_are_defaults_only_and_must_be_paths(tmp_path: Path):
    path = tmp_path / "lakejobs.toml"
    path.write_text(CONFIG.replace("[profiles.local]\n", '[profiles.local]\njars_dir = "x"\n'))
    with pytest.raises(ConfigError, match=r"unknown key profiles\.local\.jars_dir"):
        load_settings(env={"LAKEJOBS_CONFIG": str(path)})
    path.write_text(CONFIG.replace("[defaults]\n", "[defaults]\nschemas_dir = 3\n"))
    with pytest.raises(ConfigError, match=r"defaults\.schemas_dir must be a folder path, got 3"):
        load_settings(env={"LAKEJOBS_CONFIG": str(path)})
