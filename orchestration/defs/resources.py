"""Resources shared by every area, and the one-writer rule for the build warehouse.

DuckDB allows a single writing process per file. Every asset that writes the build warehouse
declares ``pool=WAREHOUSE_WRITER_POOL``; the Dagster instance (``dagster.yaml`` written by
the CLI) limits that pool to one slot, and the jobs run in process, so two steps never hold
the file at once, whether started from the CLI, the UI, a schedule or a sensor.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from warehouse.config import settings

WAREHOUSE_WRITER_POOL = "duckdb_warehouse"


def warehouse_resource() -> DuckDBResource:
    return DuckDBResource(database=str(settings().warehouse_path))


defs = dg.Definitions(resources={"duckdb": warehouse_resource()})
