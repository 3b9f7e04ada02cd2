"""The dbt source YAML of the raw layer is generated from the source contract: the committed
files are exactly the rendering, and the rendering says what the contract says."""

import pytest
import yaml

from contracts.dbt_sources import (
    DBT_PROJECT_DIR,
    dagster_asset_key,
    main,
    render,
    rendered_files,
    source_file,
    stale_files,
)
from contracts.sources import RAW_SCHEMAS, tables_of


@pytest.mark.parametrize("system", sorted(RAW_SCHEMAS))
def test_committed_sources_file_is_the_rendering(system):
    path = source_file(system)
    assert path.read_text() == render(system), (
        f"{path.relative_to(DBT_PROJECT_DIR.parent)} differs from contracts/sources.py: "
        "run python -m contracts.dbt_sources --write")


@pytest.mark.parametrize("system", sorted(RAW_SCHEMAS))
def test_rendering_declares_every_table_and_column_of_the_contract(system):
    (source,) = yaml.safe_load(render(system))["sources"]
    assert source["name"] == source["schema"] == RAW_SCHEMAS[system]
    tables = {t["name"]: t for t in source["tables"]}
    assert list(tables) == [t.raw_table for t in tables_of(system)]
    for contract in tables_of(system):
        declared = tables[contract.raw_table]
        assert declared["description"] == contract.description
        # the key of the extraction asset: dbt lineage in Dagster starts at the raw asset
        assert declared["meta"]["dagster"]["asset_key"] == dagster_asset_key(contract) \
            == [contract.raw_schema, contract.raw_table]
        assert [(c["name"], c["description"]) for c in declared["columns"]] == \
            [(c.name, c.description) for c in contract.columns]


def test_descriptions_with_quotes_and_backslashes_survive_the_yaml(monkeypatch):
    from contracts import dbt_sources
    from contracts.sources import Column, SourceTable

    odd = 'a "quoted" word, a back\\slash, a colon: and 中文'
    table = SourceTable("erp", "odd", odd, ("id",), (Column("id", "TEXT", odd),))
    monkeypatch.setattr(dbt_sources, "tables_of", lambda system: (table,))
    (source,) = yaml.safe_load(dbt_sources.render("erp"))["sources"]
    assert source["tables"][0]["description"] == odd
    assert source["tables"][0]["columns"][0]["description"] == odd


def test_check_and_write(tmp_path, capsys):
    for path, text in rendered_files(tmp_path).items():
        path.parent.mkdir(parents=True)
        path.write_text(text)
    assert stale_files(tmp_path) == []
    edited = source_file("erp", tmp_path)
    edited.write_text(edited.read_text().replace("ERP member id", "hand-edited"))
    assert stale_files(tmp_path) == [edited]
    # the command checks the real project, which is current
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == ""
