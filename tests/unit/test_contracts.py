"""Broken contract files fail with a ConfigError naming the file (and the key when one is missing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakejobs import contracts, quality
from lakejobs.errors import ConfigError, UsageError


@pytest.fixture
def schemas(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    (tmp_path / "tables").mkdir()
    (tmp_path / "raw").mkdir()
    monkeypatch.setenv("LAKEJOBS_SCHEMAS", str(tmp_path))
    yield tmp_path


def test_a_broken_contract_json_names_its_file(schemas: Path):
    path = schemas / "tables" / "unit.broken.json"
    path.write_text('{"name": "unit.broken", "columns": [')
    with pytest.raises(ConfigError) as raised:
        contracts.table_contract("unit.broken")
    assert str(raised.value).startswith(f"{path}: invalid JSON: ")
    assert isinstance(raised.value, UsageError)  # still exit code 2 for the CLI


def test_a_contract_missing_a_key_names_the_file_and_the_key(schemas: Path):
    path = schemas / "tables" / "unit.nocolumns.json"
    path.write_text(json.dumps({"name": "unit.nocolumns"}))
    with pytest.raises(ConfigError, match=r"missing key 'columns'$") as raised:
        contracts.table_contract("unit.nocolumns")
    assert str(raised.value) == f"{path}: missing key 'columns'"


def test_a_bad_value_in_a_contract_names_the_file(schemas: Path):
    path = schemas / "tables" / "unit.badtype.json"
    path.write_text(
        json.dumps({"name": "unit.badtype", "columns": [{"name": "a", "type": "blob"}]})
    )
    with pytest.raises(ConfigError) as raised:
        contracts.table_contract("unit.badtype")
    assert str(raised.value) == f"{path}: unsupported column type 'blob' in a table contract"


def test_a_broken_raw_source_contract_names_its_file(schemas: Path):
    path = schemas / "raw" / "broken_source.json"
    path.write_text(json.dumps({"source": "broken_source", "columns": [{"name": "a"}]}))
    with pytest.raises(ConfigError) as raised:
        contracts.raw_source("broken_source")
    assert str(raised.value) == f"{path}: missing key 'type'"


@pytest.fixture
def suites(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    (tmp_path / "expectations").mkdir()
    monkeypatch.setenv("LAKEJOBS_SCHEMAS", str(tmp_path))
    yield tmp_path / "expectations"


def test_a_broken_or_missing_expectation_suite_names_its_file(suites: Path):
    path = suites / "unit.broken.json"
    path.write_text('{"name": "unit.broken", "expectations": [')
    with pytest.raises(ConfigError, match="invalid JSON") as raised:
        quality.load_suite("unit.broken")
    assert str(raised.value).startswith(f"{path}: ")
    with pytest.raises(
        ConfigError, match=f"expectation suite not found: {suites}/unit.absent.json"
    ):
        quality.load_suite("unit.absent")


def test_a_suite_with_an_unsupported_row_rule_or_no_expectations_key_names_the_file(suites: Path):
    path = suites / "unit.rules.json"
    rule = {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}}
    path.write_text(json.dumps({"name": "unit.rules", "expectations": [rule]}))
    with pytest.raises(
        ConfigError, match="row-level rule expect_column_values_to_be_unique"
    ) as raised:
        quality.load_suite("unit.rules")
    assert str(raised.value).startswith(f"{path}: ")
    other = suites.parent / "other"  # suites are cached per folder: a second folder
    (other / "expectations").mkdir(parents=True)
    (other / "expectations" / "unit.rules.json").write_text(json.dumps({"name": "unit.rules"}))
    with pytest.raises(ConfigError, match=r"missing key 'expectations'$"):
        quality.load_suite("unit.rules", other)


def _table(folder: Path, column: str) -> None:
    (folder / "tables").mkdir(parents=True)
    contract = {"name": "unit.same", "columns": [{"name": column, "type": "string"}]}
    (folder / "tables" / "unit.same.json").write_text(json.dumps(contract))


def test_two_schemas_folders_never_see_each_others_contracts(tmp_path: Path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    _table(first, "a")
    _table(second, "b")
    assert contracts.table_contract("unit.same", first).columns == ("a",)
    assert contracts.table_contract("unit.same", second).columns == ("b",)
    monkeypatch.setenv("LAKEJOBS_SCHEMAS", str(second))  # the default folder follows the env
    assert contracts.table_contract("unit.same").columns == ("b",)
    assert [c.name for c in contracts.all_table_contracts(first)] == ["unit.same"]


def test_the_default_schemas_folder_is_the_jobs_packages_data(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("LAKEJOBS_SCHEMAS", raising=False)
    monkeypatch.delenv("LAKEJOBS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no lakejobs.toml here; the checkout's names no schemas_dir
    import jobs

    folder = contracts.schemas_dir()
    assert folder == Path(jobs.__file__).parent / "schemas"
    assert (folder / "grading_schemes.json").is_file()
    assert contracts.table_contract("exams.scores").name == "exams.scores"
