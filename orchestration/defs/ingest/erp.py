"""ERP tables -> ``raw_erp.*`` (SQLite by default; PostgreSQL or MariaDB by CRMW_ERP_URL)."""

from contracts.sources import ERP_TABLES
from orchestration.defs.ingest.factory import extraction_assets

erp_assets = extraction_assets(ERP_TABLES)
