"""One typed `Settings` object from profiles in lakejobs.toml plus environment overrides.

Precedence, highest first: explicit arguments (CLI flags), environment (`LAKEJOBS_LAKE`,
`LAKEJOBS_PROFILE`, `LAKEJOBS_MASTER`, `LAKEJOBS_CONFIG`, `LAKEJOBS_SCHEMAS`, `LAKEJOBS_JARS`),
the profile, `[defaults]`.

Nothing is looked up at import time: the lakejobs.toml in use, the contracts folder and the
jars folder are resolved when settings are loaded, so a source checkout and an installed wheel
differ only in what they find.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lakejobs.domains import setting_keys
from lakejobs.errors import ConfigError, UsageError

DEFAULT_PROFILE = "local"
LAKE_SCHEMES = ("file", "hdfs", "s3a", "s3")
# "in-memory": no metastore in the job path (jobs read and write tables by path), so any number of
# processes can run on one lake; sessions that query by name call `lakejobs.catalog.register_lake`.
# "derby" (embedded, one JVM at a time), "hive" (hive-site.xml) and "glue" register every table
# a job writes by name as well.
METASTORES = ("in-memory", "derby", "derby-memory", "glue", "hive")
DEFAULT_METASTORE = "in-memory"
MIN_RETENTION_DAYS = 7
_PROFILE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# The keys a lakejobs.toml may have, with those the domains declare (`lakejobs.domains`); any other
# is a ConfigError (a misspelt key would otherwise be ignored without a word).
# `[profiles.<name>.spark]` takes any Spark setting.
SETTING_KEYS = ("max_quarantine_share", "retention_days", "quarantine_days", "jobs_package")
PROFILE_KEYS = ("master", "lake", "metastore", "spark", *SETTING_KEYS)
# Keys of `[defaults]` only: where the code's contracts and the JVM jars are (paths relative to
# the file). They belong to the installation, not to a profile's environment.
INSTALL_KEYS = ("schemas_dir", "jars_dir")
# The package of the jobs (`Settings.jobs_package`); its `schemas/` data folder holds the
# contracts unless one is named.
DEFAULT_JOBS_PACKAGE = "jobs"
TOP_LEVEL_KEYS = ("defaults", "profiles")


def checkout_config() -> Path | None:
    """The lakejobs.toml of the source checkout this library is imported from (`lib/lakejobs/`
    of a clone or an editable install), or None for an installed wheel or a --py-files zip."""
    candidate = Path(__file__).resolve().parents[2] / "lakejobs.toml"
    return candidate if candidate.is_file() else None


def config_path(env: Mapping[str, str] = os.environ) -> Path | None:
    """The lakejobs.toml in use: $LAKEJOBS_CONFIG, ./lakejobs.toml, or the source checkout's."""
    if env.get("LAKEJOBS_CONFIG"):
        path = Path(env["LAKEJOBS_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"LAKEJOBS_CONFIG={path} does not exist")
        return path
    here = Path.cwd() / "lakejobs.toml"
    return here if here.is_file() else checkout_config()


def project_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The folder of the lakejobs.toml in use (a checkout or a deployment folder), else the cwd:
    where `make bootstrap` puts `.jars/` and `.build/`."""
    return _project(config_path(env))


def _project(path: Path | None) -> Path:
    return path.parent.resolve() if path is not None else Path.cwd()


def package_schemas_dir(package: str = DEFAULT_JOBS_PACKAGE) -> Path:
    """The contracts shipped as package data: `<package>/schemas/` of the installed (or source)
    jobs package."""
    return Path(str(files(package) / "schemas"))


def default_schemas_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The contracts folder: $LAKEJOBS_SCHEMAS, else `[defaults] schemas_dir` of the lakejobs.toml
    in use, else the jobs package's data. `Settings` and the contract loaders both use it."""
    path = config_path(env)
    return _schemas_dir(env, path, _read_config(path))


def default_jars_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The folder of JVM jars Spark gets: $LAKEJOBS_JARS, else `[defaults] jars_dir` of the
    lakejobs.toml in use, else `.jars/` of the project folder or of the source checkout (what
    `make bootstrap` fills)."""
    path = config_path(env)
    return _jars_dir(env, path, _read_config(path))


def _schemas_dir(env: Mapping[str, str], path: Path | None, raw: Mapping[str, Any]) -> Path:
    return _install_path(env, "LAKEJOBS_SCHEMAS", "schemas_dir", path, raw) or (
        package_schemas_dir()
    )


def _jars_dir(env: Mapping[str, str], path: Path | None, raw: Mapping[str, Any]) -> Path:
    """Named (env, `[defaults]`), else `.jars/` beside the lakejobs.toml in use; a config file
    of one's own elsewhere (a deployment folder without jars) falls back to the `.jars/` of the
    source checkout this library runs from, when there is one."""
    named = _install_path(env, "LAKEJOBS_JARS", "jars_dir", path, raw)
    if named is not None:
        return named
    beside = _project(path) / ".jars"
    checkout = Path(__file__).resolve().parents[2] / ".jars"
    return checkout if not beside.is_dir() and checkout.is_dir() else beside


def _install_path(
    env: Mapping[str, str], variable: str, key: str, path: Path | None, raw: Mapping[str, Any]
) -> Path | None:
    """An installation folder from the environment, else from `[defaults]` (relative to the
    file); None when neither names one."""
    if env.get(variable):
        return Path(env[variable]).expanduser().resolve()
    value = raw.get("defaults", {}).get(key)
    if value is None or path is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: defaults.{key} must be a folder path, got {value!r}")
    return (path.parent / Path(value).expanduser()).resolve()


@dataclass(frozen=True)
class Settings:
    """Everything a job run needs to know about its environment, validated on construction."""

    profile: str
    lake: str
    master: str
    metastore: str = DEFAULT_METASTORE
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    max_quarantine_share: float = 0.2
    # Values of the keys domains declare (e.g. grading_scheme), read by their jobs' param defaults.
    job_defaults: Mapping[str, Any] = field(default_factory=dict)
    # Contracts (raw/, tables/, expectations/, grading_schemes.json) and the jars Spark gets.
    schemas_dir: Path = field(default_factory=default_schemas_dir)
    jars_dir: Path = field(default_factory=default_jars_dir)
    # `lakejobs maintain`: time travel kept for this many days; quarantine rows kept this long.
    retention_days: int = 7
    quarantine_days: int = 30
    jobs_package: str = DEFAULT_JOBS_PACKAGE  # the package whose `Job`s the registry discovers

    def __post_init__(self) -> None:
        if self.metastore not in METASTORES:
            raise UsageError(
                f"profile {self.profile!r}: metastore must be one of {', '.join(METASTORES)}, "
                f"got {self.metastore!r}"
            )
        if not 0.0 <= self.max_quarantine_share <= 1.0:
            raise UsageError(
                f"max_quarantine_share must be between 0 and 1, got {self.max_quarantine_share}"
            )
        for name in ("retention_days", "quarantine_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(
                    f"{name} must be a whole number of days, at least 1, got {value!r}"
                )
        if self.retention_days < MIN_RETENTION_DAYS:
            raise UsageError(
                f"retention_days must be at least {MIN_RETENTION_DAYS} (Delta's VACUUM safety "
                f"check: readers and writers may still use older files), got {self.retention_days}"
            )
        object.__setattr__(self, "lake", normalize_lake(self.lake))
        object.__setattr__(self, "spark_conf", MappingProxyType(dict(self.spark_conf)))
        object.__setattr__(self, "job_defaults", MappingProxyType(dict(self.job_defaults)))

    @property
    def lake_is_local(self) -> bool:
        return self.lake.startswith("file:")

    @property
    def local_lake_path(self) -> Path:
        """The lake as a local path; only meaningful when `lake_is_local`."""
        return Path(self.lake.removeprefix("file:"))

    @property
    def log_dir(self) -> Path:
        """Where the Spark/JVM log files go: `<lake>/_logs` for a local lake, else a local
        `./.lakejobs/logs` (a JVM cannot append its log to HDFS or S3)."""
        if self.lake_is_local:
            return self.local_lake_path / "_logs"
        return Path.cwd() / ".lakejobs" / "logs"


def normalize_lake(lake: str) -> str:
    """Return the lake root as a URI without a trailing slash; plain paths become `file:` URIs."""
    lake = lake.strip()
    if not lake:
        raise UsageError("lake path is empty")
    if "://" in lake or lake.startswith("file:"):
        scheme = lake.split(":", 1)[0]
        if scheme not in LAKE_SCHEMES:
            raise UsageError(
                f"lake {lake!r}: unsupported scheme {scheme!r} (use a local path, "
                f"{', '.join(s + '://' for s in LAKE_SCHEMES[1:])})"
            )
        if scheme != "file":
            return lake.rstrip("/")
        lake = lake.removeprefix("file:").removeprefix("//")
    path = Path(lake).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    return "file:" + str(path.resolve())


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {"profiles": {DEFAULT_PROFILE: {"master": "local[*]", "lake": "lake"}}}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    check_config(raw, path)
    return raw


def check_config(raw: Mapping[str, Any], path: Path) -> None:
    """Every table and key of a parsed lakejobs.toml is one lakejobs reads; else a `ConfigError`
    naming the file and the key (`profiles.local.mastr`)."""
    domain_keys = setting_keys()
    _known_keys(raw, TOP_LEVEL_KEYS, path, "", "the file")
    defaults = _table(raw, "defaults", path, "defaults")
    _known_keys(
        defaults, (*SETTING_KEYS, *domain_keys, *INSTALL_KEYS), path, "defaults.", "[defaults]"
    )
    profiles = _table(raw, "profiles", path, "profiles")
    for name in profiles:
        profile = _table(profiles, name, path, f"profiles.{name}")
        where = f"[profiles.{name}]"
        _known_keys(profile, (*PROFILE_KEYS, *domain_keys), path, f"profiles.{name}.", where)
        _table(profile, "spark", path, f"profiles.{name}.spark")


def _table(parent: Mapping[str, Any], key: str, path: Path, dotted: str) -> Mapping[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {dotted} must be a table ([{dotted}]), got {value!r}")
    return value


def _known_keys(
    table: Mapping[str, Any], known: tuple[str, ...], path: Path, prefix: str, where: str
) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(
                f"{path}: unknown key {prefix}{key} ({where} takes: {', '.join(known)})"
            )


def load_settings(
    profile: str | None = None,
    lake: str | None = None,
    master: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> Settings:
    """Build `Settings` for a profile. An unknown profile or a bad --lake raises `UsageError`;
    a broken lakejobs.toml (bad TOML, an unknown key, a bad value) raises `ConfigError`."""
    path = config_path(env)
    raw = _read_config(path)
    name = profile or env.get("LAKEJOBS_PROFILE") or DEFAULT_PROFILE
    if not _PROFILE_NAME.match(name):
        raise UsageError(f"invalid profile name {name!r}")
    profiles = raw.get("profiles", {})
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise UsageError(f"unknown profile {name!r} (known: {known}; defined in {path})")
    defaults = raw.get("defaults", {})
    chosen = profiles[name]
    if lake is not None and not lake.strip():
        raise UsageError("--lake is empty: give a lake path, or leave the option out")
    if lake is None and "LAKEJOBS_LAKE" in env and not env["LAKEJOBS_LAKE"].strip():
        raise UsageError("LAKEJOBS_LAKE is set but empty: give a lake path, or unset it")
    lake_value = lake or env.get("LAKEJOBS_LAKE")
    if lake_value:
        lake_value = normalize_lake(lake_value)  # a flag or $LAKEJOBS_LAKE: a UsageError
    else:
        lake_value = chosen.get("lake", "lake")
        if path is not None:
            if not isinstance(lake_value, str):
                raise ConfigError(f"{path}: profiles.{name}.lake must be a string")
            if "://" not in lake_value and not Path(lake_value).is_absolute():
                # A relative lake in the config file is relative to that file, not to the cwd.
                lake_value = str(path.parent / lake_value)
            try:
                lake_value = normalize_lake(lake_value)
            except UsageError as exc:
                raise ConfigError(f"{path}: profiles.{name}.lake: {exc}") from None
    try:
        return Settings(
            profile=name,
            lake=lake_value,
            master=master or env.get("LAKEJOBS_MASTER") or chosen.get("master", "local[*]"),
            metastore=chosen.get("metastore", DEFAULT_METASTORE),
            spark_conf={str(k): str(v) for k, v in chosen.get("spark", {}).items()},
            max_quarantine_share=_number(chosen, defaults, "max_quarantine_share", 0.2),
            job_defaults=_job_defaults(chosen, defaults),
            retention_days=_days(chosen, defaults, "retention_days", 7),
            quarantine_days=_days(chosen, defaults, "quarantine_days", 30),
            jobs_package=str(
                chosen.get("jobs_package", defaults.get("jobs_package", DEFAULT_JOBS_PACKAGE))
            ),
            schemas_dir=_schemas_dir(env, path, raw),
            jars_dir=_jars_dir(env, path, raw),
        )
    except ConfigError:
        raise
    except UsageError as exc:  # a value of the file (Settings names the key)
        detail = str(exc).removeprefix(f"profile {name!r}: ")
        raise ConfigError(f"{path or 'built-in defaults'}: profile {name!r}: {detail}") from None


def _job_defaults(chosen: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The domains' keys (all keys the library does not read; checked by `check_config`), the
    profile's value over `[defaults]`."""
    return {
        **{key: value for key, value in defaults.items() if key not in SETTING_KEYS},
        **{key: value for key, value in chosen.items() if key not in PROFILE_KEYS},
    }


def _number(
    chosen: Mapping[str, Any], defaults: Mapping[str, Any], key: str, fallback: float
) -> float:
    value = chosen.get(key, defaults.get(key, fallback))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{key} must be a number, got {value!r}") from None


def _days(chosen: Mapping[str, Any], defaults: Mapping[str, Any], key: str, fallback: int) -> int:
    value = chosen.get(key, defaults.get(key, fallback))
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{key} must be a whole number of days, got {value!r}")
    return value
