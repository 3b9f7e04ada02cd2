"""E-commerce gzip JSON-lines exports -> ``raw_ecommerce.*``."""

from contracts.sources import ECOMMERCE_TABLES
from orchestration.defs.ingest.factory import extraction_assets

ecommerce_assets = extraction_assets(ECOMMERCE_TABLES)
