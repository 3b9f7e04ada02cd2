"""Load new export files (e-commerce JSON lines, service-desk CSV) into their raw tables.

For each delivered file, in name order: skip it if its bytes were loaded before (recording a
duplicate delivery once), parse it, refuse it if a required contract column is missing
(naming file and column), add any new column to the raw table, then append the good rows with
their lineage and the quarantined lines with their reasons. The caller holds one transaction
for the whole batch, so a failing file leaves no trace of the batch.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.extract import bookkeeping
from warehouse.extract.batch import BatchResult
from warehouse.extract.csvfile import parse_csv
from warehouse.extract.errors import MissingColumnError
from warehouse.extract.files import Delivery, discover
from warehouse.extract.jsonl import parse_jsonl
from warehouse.extract.parsed import ParsedFile
from warehouse.extract.raw_tables import add_drifted_columns, missing_required
from warehouse.source_contract import SourceTable

META = bookkeeping.META_SCHEMA
PARSERS = {"ecommerce": parse_jsonl, "service_desk": parse_csv}


def extract_export_table(con: duckdb.DuckDBPyConnection, table: SourceTable, export_dir: Path,
                         batch: BatchResult) -> None:
    loaded = bookkeeping.loaded_file_paths_by_sha(con, table.system, table.name)
    already_skipped = bookkeeping.skipped_file_keys(con, table.system, table.name)
    for delivery in discover(export_dir, table.system, table.name):
        first_path = loaded.get(delivery.sha256)
        if first_path == delivery.relative_path:
            continue  # loaded by an earlier batch: not new
        if first_path is not None:
            if (delivery.sha256, delivery.relative_path) not in already_skipped:
                _record_duplicate(con, table, delivery, first_path, batch)
            continue
        parsed = PARSERS[table.system](delivery.path, delivery.relative_path)
        _load_file(con, table, delivery, parsed, batch)
        loaded[delivery.sha256] = delivery.relative_path


def _record_duplicate(con, table: SourceTable, delivery: Delivery, first_path: str,
                      batch: BatchResult) -> None:
    con.execute(
        f"INSERT INTO {META}.skipped_files VALUES (?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP)",
        [delivery.sha256, table.system, table.name, delivery.relative_path, first_path,
         "duplicate delivery: same sha256 as a file already loaded", batch.batch_id,
         batch.extracted_at],
    )
    batch.files_skipped.append(delivery.relative_path)


def _load_file(con, table: SourceTable, delivery: Delivery, parsed: ParsedFile,
               batch: BatchResult) -> None:
    if parsed.rows_read > len(parsed.quarantined):  # an empty file has no columns to check
        missing = missing_required(table, parsed.columns)
        if missing:
            raise MissingColumnError(delivery.relative_path, missing, table.name)
    batch.added_columns.extend(add_drifted_columns(con, table, parsed.columns))

    con.register("_parsed_rows", parsed.rows)
    try:
        con.execute(
            f"""INSERT INTO {table.qualified_raw_name} BY NAME
                SELECT *, ? AS _source_system, ? AS _source_object, ? AS _batch_id,
                       ?::TIMESTAMP AS _extracted_at
                FROM _parsed_rows""",
            [table.system, delivery.relative_path, batch.batch_id, batch.extracted_at],
        )
    finally:
        con.unregister("_parsed_rows")
    if parsed.quarantined:
        con.executemany(
            f"INSERT INTO {META}.quarantined_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP)",
            [[table.system, table.name, q.file_path, q.line_number, q.reason, q.raw_text,
              batch.batch_id, batch.extracted_at] for q in parsed.quarantined],
        )
    rows_loaded = parsed.rows.num_rows
    con.execute(
        f"INSERT INTO {META}.loaded_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP)",
        [delivery.sha256, table.system, table.name, delivery.relative_path, delivery.size,
         parsed.rows_read, rows_loaded, len(parsed.quarantined), batch.batch_id,
         batch.extracted_at],
    )
    batch.rows_read += parsed.rows_read
    batch.rows_loaded += rows_loaded
    batch.quarantined.extend(parsed.quarantined)
    batch.files_loaded.append(delivery.relative_path)
