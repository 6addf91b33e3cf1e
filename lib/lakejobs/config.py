"""One typed `Settings` object from profiles in lakejobs.toml plus environment overrides.

Precedence, highest first: explicit arguments (CLI flags), environment (`LAKEJOBS_LAKE`,
`LAKEJOBS_PROFILE`, `LAKEJOBS_MASTER`, `LAKEJOBS_CONFIG`), the profile, `[defaults]`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lakejobs.errors import ConfigError, UsageError


def _find_home() -> Path:
    """The project folder holding schemas/ and lakejobs.toml: $LAKEJOBS_HOME, or the nearest
    parent of this file that has schemas/ (works from a source tree and from a --py-files zip)."""
    if os.environ.get("LAKEJOBS_HOME"):
        return Path(os.environ["LAKEJOBS_HOME"]).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "schemas").is_dir():
            return parent
    return Path.cwd()


REPO_ROOT = _find_home()
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
# The keys a lakejobs.toml may have; any other is a ConfigError (a misspelt key would otherwise be
# ignored without a word). `[profiles.<name>.spark]` takes any Spark setting.
DEFAULT_JOBS_PACKAGE = "jobs"
SETTING_KEYS = (
    "max_quarantine_share",
    "grading_scheme",
    "retention_days",
    "quarantine_days",
    "jobs_package",
)
PROFILE_KEYS = ("master", "lake", "metastore", "spark", *SETTING_KEYS)
TOP_LEVEL_KEYS = ("defaults", "profiles")


@dataclass(frozen=True)
class Settings:
    """Everything a job run needs to know about its environment, validated on construction."""

    profile: str
    lake: str
    master: str
    metastore: str = DEFAULT_METASTORE
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    max_quarantine_share: float = 0.2
    grading_scheme: str = "csat9"
    jars_dir: Path = REPO_ROOT / ".jars"
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


def config_path(env: Mapping[str, str] = os.environ) -> Path | None:
    """The lakejobs.toml in use: $LAKEJOBS_CONFIG, ./lakejobs.toml, or the repository's."""
    if env.get("LAKEJOBS_CONFIG"):
        path = Path(env["LAKEJOBS_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"LAKEJOBS_CONFIG={path} does not exist")
        return path
    for candidate in (Path.cwd() / "lakejobs.toml", REPO_ROOT / "lakejobs.toml"):
        if candidate.is_file():
            return candidate
    return None


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
    _known_keys(raw, TOP_LEVEL_KEYS, path, "", "the file")
    defaults = _table(raw, "defaults", path, "defaults")
    _known_keys(defaults, SETTING_KEYS, path, "defaults.", "[defaults]")
    profiles = _table(raw, "profiles", path, "profiles")
    for name in profiles:
        profile = _table(profiles, name, path, f"profiles.{name}")
        _known_keys(profile, PROFILE_KEYS, path, f"profiles.{name}.", f"[profiles.{name}]")
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
            grading_scheme=str(
                chosen.get("grading_scheme", defaults.get("grading_scheme", "csat9"))
            ),
            retention_days=_days(chosen, defaults, "retention_days", 7),
            quarantine_days=_days(chosen, defaults, "quarantine_days", 30),
            jobs_package=str(
                chosen.get("jobs_package", defaults.get("jobs_package", DEFAULT_JOBS_PACKAGE))
            ),
        )
    except ConfigError:
        raise
    except UsageError as exc:  # a value of the file (Settings names the key)
        detail = str(exc).removeprefix(f"profile {name!r}: ")
        raise ConfigError(f"{path or 'built-in defaults'}: profile {name!r}: {detail}") from None


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
