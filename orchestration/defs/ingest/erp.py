"""ERP tables -> ``raw_erp.*`` (SQLite by default; PostgreSQL or MariaDB by CRMW_ERP_URL)."""

from orchestration.defs.ingest.factory import extraction_assets
from warehouse.source_contract import ERP_TABLES

erp_assets = extraction_assets(ERP_TABLES)
