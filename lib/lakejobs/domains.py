"""The domains of the configured jobs package, and what each adds to the library and its CLI.

The library names no domain: a domain is a subpackage `<jobs package>.<domain>` (`jobs.exams`),
found by listing the package. Besides its job modules, a domain may offer, by convention:

- `SETTING_KEYS` in its `__init__`: the lakejobs.toml keys its jobs read (in `[defaults]` or a
  profile); the file may then use them, and `Settings.job_defaults` holds their values;
- a `generate` module with `generate(lake_dir, ingest_date, *, rows, seed) -> str`: its sample
  raw delivery (`lakejobs generate <domain>`), returning a one-line description;
- a `cli` module with `add_commands(kit: CommandKit) -> None` (extra `lakejobs` subcommands)
  and/or `DEMO`, a `Demo` (what `lakejobs demo` runs and summarises).

Finding these imports only the domain packages and their `cli` modules, which keep Spark, pandas
and numpy inside their handlers: `lakejobs --help` stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lakejobs.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakejobs.config import Settings
    from lakejobs.pipeline import PipelineResult


def jobs_package() -> str:
    """The package whose subpackages are the domains: the default jobs package. (Which keys a
    lakejobs.toml may hold depends on the domains, so they are found before any settings.)"""
    from lakejobs.config import DEFAULT_JOBS_PACKAGE  # config imports this module

    return DEFAULT_JOBS_PACKAGE


@dataclass(frozen=True)
class CommandKit:
    """What the library's CLI lends a domain's `add_commands`: the subcommand list to add to, the
    common options (--lake, --profile, --debug) and the CLI's way to settings and a session."""

    subparsers: argparse._SubParsersAction[Any]  # of the CLI's own ArgumentParser subclass
    add_common: Callable[[argparse.ArgumentParser], None]
    settings: Callable[[argparse.Namespace], Settings]
    require_local_lake: Callable[[Settings], None]
    session: Callable[[argparse.Namespace, Settings], SparkSession]


@dataclass(frozen=True)
class Demo:
    """`lakejobs demo` for a domain: generate its sample delivery, run its jobs, print the jobs
    table, then `summary` (the domain's own tables, after a successful run) and the next commands
    to try: `next_commands(run_date, lake_argument)` gives what follows `lakejobs `."""

    domain: str
    summary: Callable[[SparkSession, Settings, PipelineResult], None]
    next_commands: Callable[[str, str], tuple[str, ...]]


def domain_names() -> tuple[str, ...]:
    """The domains of the jobs package, by name; none when the package is not installed."""
    name = jobs_package()
    if importlib.util.find_spec(name) is None:
        return ()
    package = importlib.import_module(name)
    found = pkgutil.iter_modules(package.__path__)
    return tuple(sorted(module.name for module in found if module.ispkg))


def _module(domain: str, name: str) -> ModuleType | None:
    """`<jobs>.<domain>.<name>` imported, or None when the domain has no such module."""
    qualified = f"{jobs_package()}.{domain}.{name}"
    if importlib.util.find_spec(qualified) is None:
        return None
    return importlib.import_module(qualified)


def setting_keys() -> tuple[str, ...]:
    """The lakejobs.toml keys the domains declare (`SETTING_KEYS` of each domain package)."""
    keys: list[str] = []
    for domain in domain_names():
        package = importlib.import_module(f"{jobs_package()}.{domain}")
        keys.extend(str(key) for key in getattr(package, "SETTING_KEYS", ()))
    return tuple(keys)


def generated_domains() -> tuple[str, ...]:
    """The domains with a sample-data generator (found without importing it: numpy is slow)."""
    package = jobs_package()
    return tuple(
        domain
        for domain in domain_names()
        if importlib.util.find_spec(f"{package}.{domain}.generate") is not None
    )


def generate(domain: str, lake_dir: Path, ingest_date: date, *, rows: int, seed: int) -> str:
    """Write `domain`'s sample raw delivery for `ingest_date` under `lake_dir`; one line back."""
    module = _module(domain, "generate")
    if module is None:
        raise UsageError(f"domain {domain!r} has no sample-data generator")
    return str(module.generate(lake_dir, ingest_date, rows=rows, seed=seed))


def cli_modules() -> tuple[ModuleType, ...]:
    """Each domain's `cli` module, for its extra subcommands and demo."""
    modules = (_module(domain, "cli") for domain in domain_names())
    return tuple(module for module in modules if module is not None)


def add_commands(kit: CommandKit) -> None:
    """Let every domain add its subcommands (`add_commands` of its `cli` module)."""
    for module in cli_modules():
        adder = getattr(module, "add_commands", None)
        if adder is not None:
            adder(kit)


def demo() -> Demo | None:
    """The demo of the first domain (by name) that offers one."""
    demos = (getattr(module, "DEMO", None) for module in cli_modules())
    return next((found for found in demos if isinstance(found, Demo)), None)
