"""Service-desk CSV exports -> ``raw_service.*``."""

from contracts.sources import SERVICE_DESK_TABLES
from orchestration.defs.ingest.factory import extraction_assets

service_desk_assets = extraction_assets(SERVICE_DESK_TABLES)
