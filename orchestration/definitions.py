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
    # DuckDB has one writer: steps run in one process by default, also for "Materialize"
    # in the UI (the multiprocess executor would make every warehouse step wait on the pool).
    dg.Definitions(executor=dg.in_process_executor),
)
