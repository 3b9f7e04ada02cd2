"""The README documents exactly the source contract the extractors enforce."""

from contracts.readme_section import render
from contracts.sources import SOURCE_TABLES
from warehouse.config import REPO_ROOT


def test_readme_contract_section_is_current():
    readme = (REPO_ROOT / "README.md").read_text()
    assert render() in readme, "README is stale: run python -m contracts.readme_section --write"


def test_every_source_table_and_column_is_documented():
    readme = (REPO_ROOT / "README.md").read_text()
    for table in SOURCE_TABLES:
        assert f"`{table.qualified_raw_name}`" in readme
        for column in table.columns:
            assert f"| `{column.name}` |" in readme, f"{table.name}.{column.name} undocumented"


def test_contract_keys_are_columns():
    for table in SOURCE_TABLES:
        for key in table.primary_key:
            assert key in table.required_columns, f"{table.name}: key {key} must be required"
        if table.updated_at:
            assert table.updated_at in table.column_names
