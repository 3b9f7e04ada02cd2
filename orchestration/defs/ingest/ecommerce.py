"""E-commerce gzip JSON-lines exports -> ``raw_ecommerce.*``."""

from orchestration.defs.ingest.factory import extraction_assets
from warehouse.source_contract import ECOMMERCE_TABLES

ecommerce_assets = extraction_assets(ECOMMERCE_TABLES)
