"""The library finds domains in the configured jobs package: their generators, settings, commands
and demo, without naming one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lakejobs import domains
from lakejobs.cli import build_parser, main
from lakejobs.config import load_settings
from lakejobs.errors import ConfigError


def test_the_shipped_domains_offer_generators_a_report_and_the_exams_demo():
    assert domains.domain_names() == ("ads", "events", "exams")
    assert domains.generated_domains() == ("ads", "events", "exams")
    assert domains.setting_keys() == ("grading_scheme",)
    demo = domains.demo()
    assert demo is not None and demo.domain == "exams"
    assert "report" in build_parser().format_help()


@pytest.fixture
def shop_package(tmp_path: Path, monkeypatch) -> Path:
    """A jobs package of its own: one domain with a setting and a generator, no commands."""
    domain = tmp_path / "shopjobs" / "shop"
    domain.mkdir(parents=True)
    (domain.parent / "__init__.py").write_text("")
    (domain / "__init__.py").write_text('SETTING_KEYS = ("currency",)\n')
    (domain / "generate.py").write_text(
        "def generate(lake_dir, ingest_date, *, rows, seed):\n"
        "    return f'shop: {rows} lines for {ingest_date} in {lake_dir.name}'\n"
    )
    (tmp_path / "lakejobs.toml").write_text('[profiles.local]\nlake = "lake"\n')
    monkeypatch.setenv("LAKEJOBS_CONFIG", str(tmp_path / "lakejobs.toml"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(domains, "jobs_package", lambda: "shopjobs")
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("shopjobs")]:
        del sys.modules[name]


def test_another_jobs_package_brings_its_own_domains(shop_package: Path, capsys):
    assert domains.generated_domains() == ("shop",)
    assert domains.demo() is None
    help_text = build_parser().format_help()
    assert "report" not in help_text
    assert "run a domain's pipeline" in help_text
    lake = shop_package / "lake"
    lake.mkdir()
    assert (
        main(["generate", "all", "--lake", str(lake), "--date", "2026-11-20", "--rows", "3"]) == 0
    )
    assert capsys.readouterr().out == "shop: 3 lines for 2026-11-20 in lake\n"
    assert main(["demo", "--lake", str(lake)]) == 2
    assert "no domain of the 'shopjobs' package offers a demo" in capsys.readouterr().err


def test_the_config_file_takes_the_keys_the_domains_declare(shop_package: Path):
    path = shop_package / "lakejobs.toml"
    path.write_text('[profiles.local]\nlake = "lake"\ncurrency = "EUR"\n')
    settings = load_settings(env={"LAKEJOBS_CONFIG": str(path)})
    assert dict(settings.job_defaults) == {"currency": "EUR"}
    path.write_text('[profiles.local]\nlake = "lake"\ngrading_scheme = "hs5"\n')
    with pytest.raises(ConfigError, match=r"unknown key profiles\.local\.grading_scheme "):
        load_settings(env={"LAKEJOBS_CONFIG": str(path)})
