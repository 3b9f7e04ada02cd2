"""Raw tables: every contract column as VARCHAR, the lineage columns, and drifted columns.

A raw table is created from the source contract on first load, so dbt staging and the GX raw
suites can rely on every contract column existing even before a source delivers it. A column a
source starts delivering that the contract does not know is added with ``ALTER TABLE`` (older
rows read NULL): schema drift is kept, never dropped.
"""

from __future__ import annotations

import duckdb

from contracts.sources import SourceTable

LINEAGE_DDL = (
    ('"_source_system"', "VARCHAR NOT NULL"),
    ('"_source_object"', "VARCHAR NOT NULL"),
    ('"_source_row_number"', "BIGINT NOT NULL"),
    ('"_batch_id"', "VARCHAR NOT NULL"),
    ('"_extracted_at"', "TIMESTAMP NOT NULL"),
)


def quote(identifier: str) -> str:
    """Quote a column name as delivered (sources may send any characters)."""
    return '"' + identifier.replace('"', '""') + '"'


def ensure_raw_table(con: duckdb.DuckDBPyConnection, table: SourceTable) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.raw_schema}")
    columns = [f"{quote(c)} VARCHAR" for c in table.column_names]
    columns += [f"{name} {ddl}" for name, ddl in LINEAGE_DDL]
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {table.qualified_raw_name} ({', '.join(columns)})"
    )


def raw_columns(con: duckdb.DuckDBPyConnection, table: SourceTable) -> list[str]:
    rows = con.execute(
        """SELECT column_name FROM duckdb_columns()
           WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
           ORDER BY column_index""",
        [table.raw_schema, table.raw_table],
    ).fetchall()
    return [r[0] for r in rows]


def add_drifted_columns(con: duckdb.DuckDBPyConnection, table: SourceTable,
                        delivered: list[str]) -> list[str]:
    """Add delivered columns the raw table lacks; return the names added."""
    existing = {c.lower() for c in raw_columns(con, table)}
    added = []
    for name in delivered:
        if name.lower() not in existing:
            con.execute(f"ALTER TABLE {table.qualified_raw_name} ADD COLUMN {quote(name)} VARCHAR")
            existing.add(name.lower())
            added.append(name)
    return added


def missing_required(table: SourceTable, delivered: list[str]) -> list[str]:
    present = {c.lower() for c in delivered}
    return [c for c in table.required_columns if c.lower() not in present]
