"""The ``raw_meta`` schema: what was loaded, skipped and quarantined, batch by batch.

These tables are how the extractors stay incremental and idempotent: a file is loaded only if
its sha256 is not in ``loaded_files``; an ERP table is read from its cursor in ``erp_cursors``;
every line that could not be loaded is kept with its reason in ``quarantined_lines``.
They are written in the same DuckDB transaction as the raw rows, so they never disagree.
"""

from __future__ import annotations

import duckdb

META_SCHEMA = "raw_meta"

_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.batches (
        batch_id VARCHAR PRIMARY KEY,
        source_system VARCHAR NOT NULL,
        source_table VARCHAR NOT NULL,
        status VARCHAR NOT NULL,            -- succeeded | failed
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        rows_read BIGINT,
        rows_loaded BIGINT,
        rows_quarantined BIGINT,
        files_loaded INTEGER,
        files_skipped INTEGER,
        cursor_value VARCHAR,
        error VARCHAR
    )""",
    f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.loaded_files (
        sha256 VARCHAR NOT NULL,
        source_system VARCHAR NOT NULL,
        source_table VARCHAR NOT NULL,
        file_path VARCHAR NOT NULL,          -- relative to the export directory of the system
        file_bytes BIGINT NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_loaded BIGINT NOT NULL,
        rows_quarantined BIGINT NOT NULL,
        batch_id VARCHAR NOT NULL,
        loaded_at TIMESTAMP NOT NULL,
        is_empty BOOLEAN                     -- delivered no record (0 bytes, empty gzip, ...)
    )""",
    # warehouses created before is_empty existed: add it, and mark their empty files
    f"ALTER TABLE {META_SCHEMA}.loaded_files ADD COLUMN IF NOT EXISTS is_empty BOOLEAN",
    f"UPDATE {META_SCHEMA}.loaded_files SET is_empty = rows_read = 0 WHERE is_empty IS NULL",
    f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.skipped_files (
        sha256 VARCHAR NOT NULL,
        source_system VARCHAR NOT NULL,
        source_table VARCHAR NOT NULL,
        file_path VARCHAR NOT NULL,
        duplicate_of VARCHAR NOT NULL,       -- the path under which these bytes were loaded
        reason VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        skipped_at TIMESTAMP NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.erp_cursors (
        source_table VARCHAR PRIMARY KEY,
        cursor_column VARCHAR NOT NULL,
        cursor_value VARCHAR,                -- max cursor loaded, rendered as text
        batch_id VARCHAR NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )""",
    f"""CREATE TABLE IF NOT EXISTS {META_SCHEMA}.quarantined_lines (
        source_system VARCHAR NOT NULL,
        source_table VARCHAR NOT NULL,
        file_path VARCHAR NOT NULL,
        line_number BIGINT NOT NULL,         -- physical 1-based line where the record starts
        reason VARCHAR NOT NULL,
        raw_text VARCHAR,
        batch_id VARCHAR NOT NULL,
        quarantined_at TIMESTAMP NOT NULL
    )""",
)


def ensure_meta_schema(con: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        con.execute(statement)


def erp_cursor(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    row = con.execute(
        f"SELECT cursor_value FROM {META_SCHEMA}.erp_cursors WHERE source_table = ?", [table]
    ).fetchone()
    return row[0] if row else None


def save_erp_cursor(con, table: str, column: str, value: str | None, batch_id: str) -> None:
    con.execute(
        f"""INSERT INTO {META_SCHEMA}.erp_cursors VALUES (?, ?, ?, ?, now()::TIMESTAMP)
            ON CONFLICT (source_table) DO UPDATE SET cursor_column = excluded.cursor_column,
              cursor_value = excluded.cursor_value, batch_id = excluded.batch_id,
              updated_at = excluded.updated_at""",
        [table, column, value, batch_id],
    )


def loaded_file_paths_by_sha(con, system: str, table: str) -> dict[str, str]:
    """sha256 -> the path under which those bytes were first loaded, for one source table."""
    rows = con.execute(
        f"""SELECT sha256, min(file_path) FROM {META_SCHEMA}.loaded_files
            WHERE source_system = ? AND source_table = ? GROUP BY sha256""",
        [system, table],
    ).fetchall()
    return dict(rows)


def empty_file_keys(con, system: str, table: str) -> set[tuple[str, str]]:
    """(sha256, path) of the empty files loaded: a blank file is known by name and bytes,
    since all blank files share their bytes (see warehouse/extract/files.py)."""
    rows = con.execute(
        f"""SELECT sha256, file_path FROM {META_SCHEMA}.loaded_files
            WHERE source_system = ? AND source_table = ? AND is_empty""",
        [system, table],
    ).fetchall()
    return {(sha, path) for sha, path in rows}


def skipped_file_keys(con, system: str, table: str) -> set[tuple[str, str]]:
    """(sha256, path) of duplicate deliveries already recorded, so a re-run records nothing."""
    rows = con.execute(
        f"""SELECT sha256, file_path FROM {META_SCHEMA}.skipped_files
            WHERE source_system = ? AND source_table = ?""",
        [system, table],
    ).fetchall()
    return {(sha, path) for sha, path in rows}


def record_batch(con, *, batch_id: str, system: str, table: str, status: str, started_at,
                 stats: dict, cursor_value: str | None = None, error: str | None = None) -> None:
    con.execute(
        f"""INSERT INTO {META_SCHEMA}.batches VALUES
            (?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?)""",
        [batch_id, system, table, status, started_at, stats.get("rows_read", 0),
         stats.get("rows_loaded", 0), stats.get("rows_quarantined", 0),
         stats.get("files_loaded", 0), stats.get("files_skipped", 0), cursor_value, error],
    )
