"""`register_lake` gives every metastore entry the Delta table's columns and comments (JDBC
`GetColumns` reads only the entry), without error output, and leaves the data alone."""

from __future__ import annotations

import pytest

from lakejobs.catalog import register_lake
from lakejobs.contracts import table_contract

pytestmark = pytest.mark.bi


def test_registered_entries_carry_the_contracts_columns_and_comments(spark, curated_lake, capfd):
    names = register_lake(spark, str(curated_lake), databases=["exams", "lakejobs"])
    assert {"exams.grade_cutoffs", "lakejobs.job_runs"} <= set(names)
    catalog = spark._jsparkSession.sharedState().externalCatalog()
    for name in ("exams.grade_cutoffs", "exams.grades", "lakejobs.job_runs"):
        contract = table_contract(name)
        entry = catalog.getTable(contract.database, contract.table).schema()
        stored = [(f.name(), f.dataType().simpleString()) for f in entry.fields()]
        assert stored == [(f.name, f.dataType.simpleString()) for f in contract.schema.fields]
        comments = [
            f.getComment().get() if f.getComment().isDefined() else None for f in entry.fields()
        ]
        assert comments == [f.metadata.get("comment") for f in contract.schema.fields], name
    assert "Exception" not in capfd.readouterr().err
    assert register_lake(spark, str(curated_lake), databases=["exams", "lakejobs"]) == names
