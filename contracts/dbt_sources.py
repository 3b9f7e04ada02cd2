"""Render the dbt source YAML of the raw layer from the source contract.

dbt staging reads the raw tables through the sources declared in
``dbt_project/models/staging/<system>/_<system>__sources.yml``. Those files are generated from
:mod:`contracts.sources` (tables, descriptions, columns, and the Dagster asset key that ties
each dbt source to the extraction asset that loads it), so the contract the extractors enforce
and the sources dbt reads cannot drift apart: ``tests/contracts/test_dbt_sources.py`` fails
when a committed file differs from this rendering.

    python -m contracts.dbt_sources            # print the rendering
    python -m contracts.dbt_sources --check    # list the files that differ; exit 1 if any
    python -m contracts.dbt_sources --write    # rewrite the files that differ

The YAML is written line by line rather than with ``yaml.dump``, to keep the layout a person
would write (and stable diffs); every free-text value is a JSON string, which YAML reads as a
double-quoted scalar, so descriptions need no escaping rules of their own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contracts.generated_files import generated_files_main
from contracts.sources import RAW_SCHEMAS, SourceTable, tables_of

#: The dbt project beside this package (contracts imports nothing of the project, so it does
#: not ask the warehouse configuration where that is).
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def source_file(system: str, dbt_project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """Where the sources of one source system are declared (beside its staging models)."""
    return dbt_project_dir / "models" / "staging" / system / f"_{system}__sources.yml"


def dagster_asset_key(table: SourceTable) -> list[str]:
    """The asset key of the extraction asset that loads the table: ``[schema, table]``."""
    return [table.raw_schema, table.raw_table]


def render(system: str) -> str:
    """The ``_<system>__sources.yml`` of one source system, as committed."""
    schema = RAW_SCHEMAS[system]
    lines = [
        "version: 2",
        "# Generated from contracts/sources.py by `python -m contracts.dbt_sources --write`; do",
        "# not edit by hand. Raw values are VARCHAR as delivered.",
        "sources:",
        f"  - name: {schema}",
        f"    schema: {schema}",
        f"    description: Raw {system} tables loaded by the extraction assets (group ingest).",
        "    tables:",
    ]
    for table in tables_of(system):
        lines += [
            f"      - name: {table.raw_table}",
            f"        description: {_quoted(table.description)}",
            "        meta:",
            "          dagster:",
            f"            asset_key: {json.dumps(dagster_asset_key(table))}",
            "        columns:",
        ]
        for column in table.columns:
            lines += [
                f"          - name: {column.name}",
                f"            description: {_quoted(column.description)}",
            ]
    return "\n".join(lines) + "\n"


def rendered_files(dbt_project_dir: Path = DBT_PROJECT_DIR) -> dict[Path, str]:
    """Every generated file and its content, one per source system."""
    return {source_file(system, dbt_project_dir): render(system) for system in RAW_SCHEMAS}


def stale_files(dbt_project_dir: Path = DBT_PROJECT_DIR) -> list[Path]:
    """The generated files that are missing or differ from the rendering."""
    return [path for path, text in rendered_files(dbt_project_dir).items()
            if not path.exists() or path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    return generated_files_main("python -m contracts.dbt_sources",
                                "Render the dbt source YAML of the raw layer from "
                                "contracts/sources.py.", rendered_files, argv)


if __name__ == "__main__":
    sys.exit(main())
