"""The job graph is derived from declared inputs and outputs, testable without Spark."""

from __future__ import annotations

import pytest

from lakejobs.errors import AccountingError, ConfigError, UsageError
from lakejobs.graph import ordered
from lakejobs.job import Job, Produced, RowCounts
from lakejobs.outputs import append
from lakejobs.pipeline import registry, select_jobs


def job(name: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Job:
    writes = tuple(append(table) for table in outputs)
    return Job(name, inputs, writes, lambda ctx, inputs: Produced({}, 0), description="")


def test_producers_run_before_consumers_whatever_the_declaration_order():
    grade = job("exams.grade", ("exams.scores",), ("exams.grades",))
    ingest = job("exams.ingest_scores", ("raw.exam_scores",), ("exams.scores",))
    assert [j.name for j in ordered([grade, ingest])] == [
        "exams.ingest_scores",
        "exams.grade",
    ]


def test_a_cycle_is_reported_with_its_path():
    a = job("x.a", ("exams.grades",), ("exams.scores",))
    b = job("x.b", ("exams.scores",), ("exams.grades",))
    with pytest.raises(UsageError, match=r"^job graph has a cycle: "):
        ordered([a, b])


def test_a_job_cannot_write_a_table_without_a_contract():
    with pytest.raises(ConfigError, match=r"^contract not found: .*exams\.nope\.json$"):
        job("exams.bad", ("raw.exam_scores",), ("exams.nope",))


def test_dataset_names_must_be_plain_identifiers():
    with pytest.raises(UsageError, match=r"^job exams.bad: invalid dataset name 'raw.x;drop'$"):
        job("exams.bad", ("raw.x;drop",), ())


def test_the_exams_domain_runs_ingest_then_grade():
    assert [j.name for j in select_jobs("exams")] == ["exams.ingest_scores", "exams.grade"]
    assert set(registry()) >= {"exams.ingest_scores", "exams.grade"}


def test_accounting_mismatch_names_every_number():
    with pytest.raises(AccountingError) as error:
        RowCounts(rows_in=10, written=6, quarantined=2, duplicates=1).check("exams.x")
    assert str(error.value) == (
        "exams.x: rows in 10 != written 6 + quarantined 2 + duplicates dropped 1 (9)"
    )


def test_the_order_is_the_same_whatever_order_jobs_are_given_in():
    nightly = select_jobs("nightly")
    names = [j.name for j in nightly]
    for shift in range(len(nightly)):
        given = nightly[shift:] + nightly[:shift]
        assert [j.name for j in ordered(reversed(given))] == names
    # Each step runs the first job by name among those whose producers have all run.
    producers = {o: j.name for j in nightly for o in j.outputs}
    needs = {j.name: {producers[i] for i in j.inputs if i in producers} - {j.name} for j in nightly}
    for step, name in enumerate(names):
        ready = sorted(n for n in names[step:] if needs[n] <= set(names[:step]))
        assert name == ready[0]


def test_the_nightly_order_does_not_depend_on_hash_randomisation():
    import subprocess
    import sys

    script = (
        "from lakejobs.pipeline import select_jobs; print([j.name for j in select_jobs('nightly')])"
    )
    orders = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(orders) == 1


def test_a_job_and_the_table_of_the_same_name_are_different_nodes():
    from lakejobs import graph

    ab = job("ads.creative_ab_test", ("ads.spend_daily",), ("ads.creative_ab_test",))
    mermaid = graph.to_mermaid([ab])
    assert "job_ads_creative_ab_test --> ds_ads_creative_ab_test[(ads.creative_ab_test)]" in mermaid
    assert "job_ads_creative_ab_test --> job_ads_creative_ab_test" not in mermaid
    dot = graph.to_dot([ab])
    assert 'ds_ads_creative_ab_test [label="ads.creative_ab_test", shape=cylinder' in dot
    assert "job_ads_creative_ab_test -> ds_ads_creative_ab_test;" in dot


def test_graph_text_and_order_do_not_depend_on_declaration_or_hash_order():
    import os
    import subprocess
    import sys

    from lakejobs import graph

    jobs = list(registry().values())
    assert graph.to_mermaid(jobs) == graph.to_mermaid(reversed(jobs))
    assert graph.to_dot(jobs) == graph.to_dot(reversed(jobs))
    names = [j.name for j in graph.ordered(jobs)]
    assert names.index("ads.ingest_fx") < names.index("ads.ingest_spend")
    assert names.index("ads.ingest_spend") < names.index("ads.campaign_roas")
    # Sets of strings iterate in a per-process order: two processes with other hash seeds agree.
    outputs = set()
    for seed in ("1", "2"):
        outputs.add(
            subprocess.run(
                [sys.executable, "-m", "lakejobs.cli", "graph", "nightly", "--format", "dot"],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
                env={**os.environ, "PYTHONHASHSEED": seed},
            ).stdout
        )
    assert len(outputs) == 1


def test_the_readme_mermaid_block_is_the_generated_graph():
    from pathlib import Path

    from lakejobs import graph

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block == graph.to_mermaid(select_jobs("nightly")), (
        "regenerate it: .venv/bin/lakejobs graph nightly"
    )


JOB_MODULE = """
from lakejobs import Job, Produced, append

JOB = Job("{name}", (), (append("exams.grade_cutoffs"),), lambda ctx, i: Produced({{}}, 0), "")
"""


def job_package(root, package: str, modules: dict[str, str]) -> None:
    """A package of job modules under `root`: module path -> job name."""
    for module, name in modules.items():
        path = root / package / f"{module.replace('.', '/')}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(root).parents:
            if folder.name:
                (root / folder / "__init__.py").touch()
        path.write_text(JOB_MODULE.format(name=name), encoding="utf-8")


def test_the_registry_finds_the_jobs_of_the_package_it_is_given(tmp_path, monkeypatch):
    from lakejobs import graph

    job_package(tmp_path, "found_jobs", {"exams.one": "exams.one", "ads.two": "ads.two"})
    monkeypatch.syspath_prepend(str(tmp_path))
    found = registry("found_jobs")
    assert sorted(found) == ["ads.two", "exams.one"]
    assert graph.job_file(found["exams.one"]) == "found_jobs/exams/one.py"
    assert [j.name for j in select_jobs("exams", "found_jobs")] == ["exams.one"]
    assert "exams.grade" not in found  # the default package is not looked at


def test_two_jobs_with_one_name_are_an_error(tmp_path, monkeypatch):
    job_package(tmp_path, "twin_jobs", {"a": "exams.same", "b": "exams.same"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        UsageError, match=r"^two jobs are named exams.same \(in twin_jobs.a and twin_jobs.b\)$"
    ):
        registry("twin_jobs")


def test_the_library_knows_no_job_package_and_imports_cheaply():
    import subprocess
    import sys
    from pathlib import Path

    lib = Path(__file__).resolve().parents[2] / "lib" / "lakejobs"
    for path in lib.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import jobs" not in text and "from jobs" not in text, path
    script = "import sys, lakejobs; lakejobs.__all__; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"
