"""Dagster definitions for serving: the BI publication, the PII vault, consent lists, report.

The publish asset depends on every BI-facing asset of the dbt, ml and quality areas, read
from their definitions here so a new mart is published without touching this file.
"""

import dagster as dg

from orchestration.defs import dbt, ml, quality
from orchestration.defs.publish.assets import asset_keys_of, build_publish_asset

bi_publication = build_publish_asset(asset_keys_of([dbt.defs, ml.defs, quality.defs]))

defs = dg.Definitions(assets=[bi_publication])
