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
from warehouse.extract.erp import parse_erp_url

OWNERS = ["team:data-engineering"]
QUARANTINE_CHECK = "no_quarantined_lines"
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
        "files_loaded": dg.MetadataValue.int(len(result.files_loaded)),
        "files_skipped_duplicates": dg.MetadataValue.int(len(result.files_skipped)),
        "loaded_files": dg.MetadataValue.json(result.files_loaded),
        "skipped_files": dg.MetadataValue.json(result.files_skipped),
        "added_columns": dg.MetadataValue.json(result.added_columns),
        "cursor": dg.MetadataValue.text(result.cursor_value or ""),
        "duration_seconds": dg.MetadataValue.float(round(result.duration_seconds, 3)),
    }


def quarantine_check(result: BatchResult, key: dg.AssetKey) -> dg.AssetCheckResult:
    locations = [q.location() for q in result.quarantined]
    shown = ", ".join(locations[:SHOWN_LOCATIONS])
    hidden = len(locations) - SHOWN_LOCATIONS
    more = f" and {hidden} more" if hidden > 0 else ""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=QUARANTINE_CHECK,
        passed=not locations,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{len(locations)} line(s) quarantined in raw_meta.quarantined_lines: "
                     f"{shown}{more}") if locations else "no line quarantined in this batch",
        metadata={
            "rows_quarantined": dg.MetadataValue.int(len(locations)),
            "locations": dg.MetadataValue.json(locations[:SHOWN_LOCATIONS]),
            "reasons": dg.MetadataValue.json(
                [q.reason for q in result.quarantined[:SHOWN_LOCATIONS]]),
        },
    )


def extraction_asset(table: SourceTable) -> dg.AssetsDefinition:
    key = dg.AssetKey([table.raw_schema, table.raw_table])
    file_based = table.system != "erp"
    check_specs = [
        dg.AssetCheckSpec(
            QUARANTINE_CHECK, asset=key,
            description="Fails (WARN) naming file:line when a delivered line could not be "
                        "loaded and was quarantined in raw_meta.quarantined_lines.",
        )
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
        return dg.MaterializeResult(
            metadata=materialization_metadata(result),
            check_results=[quarantine_check(result, key)] if file_based else None,
        )

    return _extract


def extraction_assets(tables) -> list[dg.AssetsDefinition]:
    return [extraction_asset(t) for t in tables]
