"""The Dagster code location: loads one module per area and nothing else."""

import dagster as dg

from orchestration.defs import automation, dbt, ingest, ml, publish, quality, resources

defs = dg.Definitions.merge(
    resources.defs,
    ingest.defs,
    dbt.defs,
    quality.defs,
    ml.defs,
    publish.defs,
    automation.defs,
)
