"""The ML output tables are declared once (contracts/ml_outputs.py): the committed dbt sources
are exactly its rendering, and the rendering says what the declaration says."""

import yaml

from contracts.ml_outputs import (
    CLV_HORIZON_COLUMNS,
    CLV_SCORES,
    DBT_SOURCES_FILE,
    ML_OUTPUTS,
    ML_SCHEMA,
    main,
    render_dbt_sources,
)


def test_committed_ml_sources_file_is_the_rendering():
    assert DBT_SOURCES_FILE.read_text() == render_dbt_sources(), (
        f"{DBT_SOURCES_FILE.name} differs from contracts/ml_outputs.py: run "
        "python -m contracts.ml_outputs --write")
    assert main(["--check"]) == 0


def test_rendering_declares_every_table_column_and_type():
    (source,) = yaml.safe_load(render_dbt_sources())["sources"]
    assert source["name"] == source["schema"] == ML_SCHEMA
    tables = {t["name"]: t for t in source["tables"]}
    assert list(tables) == [t.name for t in ML_OUTPUTS]
    for table in ML_OUTPUTS:
        declared = tables[table.name]
        assert declared["description"] == table.description
        assert declared["meta"]["dagster"]["asset_key"] == [table.schema, table.name]
        assert [(c["name"], c["data_type"], c["description"]) for c in declared["columns"]] \
            == [(c.name, c.data_type, c.description) for c in table.columns]


def test_declarations_are_consistent():
    names = [t.qualified_name for t in ML_OUTPUTS]
    assert len(names) == len(set(names))
    for table in ML_OUTPUTS:
        assert len(table.column_names) == len(set(table.column_names)), table.name
        assert table.ddl().startswith(f"create table if not exists {table.qualified_name} (")
    horizon = CLV_SCORES.renamed(CLV_HORIZON_COLUMNS)
    assert "clv_horizon" in horizon.column_names and "clv_12m" not in horizon.column_names
    assert len(horizon.columns) == len(CLV_SCORES.columns)
