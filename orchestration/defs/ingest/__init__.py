"""Dagster definitions for the ingest area: one extraction asset per source table (14).

Keys are ``[raw_schema, table]`` (docs/conventions.md), group ``ingest``, pool
``duckdb_warehouse``; the work is done by ``warehouse.extract``.
"""

import dagster as dg

from orchestration.defs.ingest.ecommerce import ecommerce_assets
from orchestration.defs.ingest.erp import erp_assets
from orchestration.defs.ingest.service_desk import service_desk_assets

ingest_assets = [*erp_assets, *ecommerce_assets, *service_desk_assets]

defs = dg.Definitions(assets=ingest_assets)
