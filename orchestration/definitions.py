"""The Dagster code location: loads one module per area and nothing else.

``[tool.dagster]`` and ``[tool.dg]`` in pyproject.toml name this module (``defs``), so
``dagster dev``, ``dagster definitions validate`` and ``dg check defs`` load it without
arguments; ``dg check defs`` (run by ``make test``) fails when any definition does not load or
resolve: an asset, check, job, schedule, sensor or a resource key an asset needs.
"""

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
