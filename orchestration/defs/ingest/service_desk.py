"""Service-desk CSV exports -> ``raw_service.*``."""

from orchestration.defs.ingest.factory import extraction_assets
from warehouse.source_contract import SERVICE_DESK_TABLES

service_desk_assets = extraction_assets(SERVICE_DESK_TABLES)
