"""One Dagster asset per source table: thin glue over :func:`warehouse.extract.extract`.

The asset runs one extraction batch (one DuckDB transaction) and turns its result into
materialization metadata. File-based assets also report a WARN asset check that fails, naming
``file:line``, when lines were quarantined, so bad deliveries are visible without blocking.
"""

import dagster as dg

from contracts.sources import SourceTable
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from warehouse.config import settings
from warehouse.extract import BatchResult, extract
from warehouse.extract.erased import REASON as ERASED_SUBJECT
from warehouse.extract.erp import parse_erp_url

OWNERS = ["team:data-engineering"]
QUARANTINE_CHECK = "no_quarantined_lines"
EMPTY_FILES_CHECK = "no_empty_files"
SHOWN_LOCATIONS = 20

_HOW = {
    "erp": "from the ERP database (CRMW_ERP_URL), incrementally on `updated_at` "
           "(cursor >= last seen, anti-joined on primary key + updated_at)",
    "ecommerce": "from the e-commerce gzip JSON-lines exports (CRMW_ECOMMERCE_DIR); "
                 "each file loads once, identified by its sha256",
    "service_desk": "from the service-desk CSV exports (CRMW_SERVICE_DESK_DIR); "
                    "each file loads once, identified by its sha256",
}


def source_kind(table: SourceTable) -> str:
    if table.system == "erp":
        return parse_erp_url(settings().erp_url).kind
    return "json" if table.system == "ecommerce" else "csv"


def materialization_metadata(result: BatchResult) -> dict:
    return {
        "dagster/row_count": dg.MetadataValue.int(result.table_rows),
        "batch_id": result.batch_id,
        "rows_read": dg.MetadataValue.int(result.rows_read),
        "rows_loaded": dg.MetadataValue.int(result.rows_loaded),
        "rows_quarantined": dg.MetadataValue.int(result.rows_quarantined),
        "rows_erased_subject": dg.MetadataValue.int(
            sum(q.reason == ERASED_SUBJECT for q in result.quarantined)),
        "files_loaded": dg.MetadataValue.int(len(result.files_loaded)),
        "files_skipped_duplicates": dg.MetadataValue.int(len(result.files_skipped)),
        "files_empty": dg.MetadataValue.int(len(result.files_empty)),
        "loaded_files": dg.MetadataValue.json(result.files_loaded),
        "skipped_files": dg.MetadataValue.json(result.files_skipped),
        "added_columns": dg.MetadataValue.json(result.added_columns),
        "cursor": dg.MetadataValue.text(result.cursor_value or ""),
        "duration_seconds": dg.MetadataValue.float(round(result.duration_seconds, 3)),
    }


def quarantine_check(result: BatchResult, key: dg.AssetKey) -> dg.AssetCheckResult:
    """Fails (WARN) on lines that could not be loaded; rows of erased people
    (``ERASED_SUBJECT``) are kept out on purpose, so they are counted but pass."""
    erased = sum(q.reason == ERASED_SUBJECT for q in result.quarantined)
    locations = [q.location() for q in result.quarantined if q.reason != ERASED_SUBJECT]
    shown = ", ".join(locations[:SHOWN_LOCATIONS])
    hidden = len(locations) - SHOWN_LOCATIONS
    more = f" and {hidden} more" if hidden > 0 else ""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=QUARANTINE_CHECK,
        passed=not locations,
        severity=dg.AssetCheckSeverity.WARN,
        description=((f"{len(locations)} line(s) quarantined in raw_meta.quarantined_lines: "
                      f"{shown}{more}") if locations else "no line quarantined in this batch")
        + (f"; {erased} row(s) of erased people kept out (ERASED_SUBJECT)" if erased else ""),
        metadata={
            "rows_quarantined": dg.MetadataValue.int(len(locations)),
            "rows_erased_subject": dg.MetadataValue.int(erased),
            "locations": dg.MetadataValue.json(locations[:SHOWN_LOCATIONS]),
            "reasons": dg.MetadataValue.json(
                [q.reason for q in result.quarantined
                 if q.reason != ERASED_SUBJECT][:SHOWN_LOCATIONS]),
        },
    )


def empty_files_check(result: BatchResult, key: dg.AssetKey) -> dg.AssetCheckResult:
    """Fails (WARN) naming the files of this batch that delivered no record (0 bytes, an
    empty gzip, a header only): loaded and marked ``is_empty`` in ``raw_meta.loaded_files``,
    since a half-transferred file must not pass for a delivery."""
    files = result.files_empty
    shown = ", ".join(files[:SHOWN_LOCATIONS])
    more = f" and {len(files) - SHOWN_LOCATIONS} more" if len(files) > SHOWN_LOCATIONS else ""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=EMPTY_FILES_CHECK,
        passed=not files,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{len(files)} empty file(s) (no record; raw_meta.loaded_files.is_empty):"
                     f" {shown}{more}") if files else "no empty file in this batch",
        metadata={"files_empty": dg.MetadataValue.json(files[:SHOWN_LOCATIONS])},
    )


def extraction_asset(table: SourceTable) -> dg.AssetsDefinition:
    key = dg.AssetKey([table.raw_schema, table.raw_table])
    file_based = table.system != "erp"
    check_specs = [
        dg.AssetCheckSpec(
            QUARANTINE_CHECK, asset=key,
            description="Fails (WARN) naming file:line when a delivered line could not be "
                        "loaded and was quarantined in raw_meta.quarantined_lines.",
        ),
        dg.AssetCheckSpec(
            EMPTY_FILES_CHECK, asset=key,
            description="Fails (WARN) naming the file when a delivered file holds no record "
                        "(0 bytes, an empty gzip, a header only): it is recorded empty in "
                        "raw_meta.loaded_files, and may be a half-transferred file.",
        ),
    ] if file_based else []

    @dg.asset(
        key=key,
        group_name="ingest",
        description=f"{table.description} Raw rows as delivered (every column VARCHAR, plus "
                    f"lineage columns) {_HOW[table.system]}.",
        owners=OWNERS,
        kinds={"duckdb", source_kind(table)},
        pool=WAREHOUSE_WRITER_POOL,
        check_specs=check_specs,
        tags={"crmw/source_system": table.system},
    )
    def _extract(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        result = extract(table, warehouse_path=warehouse.path)
        context.log.info(
            f"{table.qualified_raw_name}: batch {result.batch_id} read {result.rows_read}, "
            f"loaded {result.rows_loaded}, quarantined {result.rows_quarantined}, "
            f"files {len(result.files_loaded)} (+{len(result.files_skipped)} duplicate)"
        )
        for q in result.quarantined[:SHOWN_LOCATIONS]:
            context.log.warning(f"quarantined {q.location()}: {q.reason}")
        for path in result.files_empty[:SHOWN_LOCATIONS]:
            context.log.warning(f"empty file {path}: no record delivered")
        return dg.MaterializeResult(
            metadata=materialization_metadata(result),
            check_results=[quarantine_check(result, key), empty_files_check(result, key)]
            if file_based else None,
        )

    return _extract


def extraction_assets(tables) -> list[dg.AssetsDefinition]:
    return [extraction_asset(t) for t in tables]
