"""Run one extraction batch for one source table: the single entry point of the package.

One batch is one DuckDB transaction on the build warehouse: raw rows, drifted columns and the
``raw_meta`` bookkeeping are committed together or not at all, so re-running after a failure
(or after success) is always safe. A failed batch is still recorded in ``raw_meta.batches``
with its error, after the rollback.
"""

from __future__ import annotations

import time
from pathlib import Path

from contracts.sources import SourceTable, source_table
from warehouse.config import Settings, settings
from warehouse.connection import connect
from warehouse.extract import bookkeeping, erased, erp, exports
from warehouse.extract.batch import BatchResult, new_batch
from warehouse.extract.raw_tables import ensure_raw_table


def export_dir(table: SourceTable, cfg: Settings) -> Path:
    return cfg.ecommerce_dir if table.system == "ecommerce" else cfg.service_desk_dir


def extract(table: SourceTable | str, *, warehouse_path: str | Path | None = None,
            cfg: Settings | None = None) -> BatchResult:
    """Load what is new for ``table`` (a SourceTable or ``"<system>.<name>"``)."""
    if isinstance(table, str):
        table = source_table(*table.split(".", 1))
    cfg = cfg or settings()
    batch = new_batch(table.system, table.name)
    started = time.perf_counter()
    location = erp.parse_erp_url(cfg.erp_url) if table.system == "erp" else None
    scanner = location is not None and location.kind != "mysql"
    con = connect(warehouse_path or cfg.warehouse_path,
                  extensions=("sqlite", "postgres") if scanner else ())
    try:
        bookkeeping.ensure_meta_schema(con)
        if scanner:
            erp.attach(con, location)
        con.begin()
        try:
            ensure_raw_table(con, table)
            if location is not None:
                erp.extract_erp_table(con, table, location, batch)
            else:
                exports.extract_export_table(con, table, export_dir(table, cfg), batch)
            erased.quarantine_erased_rows(con, table, batch)
            batch.table_rows = con.execute(
                f"SELECT count(*) FROM {table.qualified_raw_name}").fetchone()[0]
            batch.duration_seconds = time.perf_counter() - started
            bookkeeping.record_batch(
                con, batch_id=batch.batch_id, system=table.system, table=table.name,
                status="succeeded", started_at=batch.extracted_at, stats=batch.stats(),
                cursor_value=batch.cursor_value)
            con.commit()
        except BaseException as exc:
            con.rollback()
            bookkeeping.record_batch(
                con, batch_id=batch.batch_id, system=table.system, table=table.name,
                status="failed", started_at=batch.extracted_at, stats={}, error=str(exc))
            raise
    finally:
        if scanner:
            erp.detach(con)
        con.close()
    return batch
