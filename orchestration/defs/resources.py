"""Resources shared by every area, and the one-writer rule for the build warehouse.

DuckDB allows a single writing process per file. Every asset that writes the build warehouse
declares ``pool=WAREHOUSE_WRITER_POOL``; the Dagster instance (``dagster.yaml`` written by
the CLI) limits that pool to one slot, and the jobs run in process, so two steps never hold
the file at once, whether started from the CLI, the UI, a schedule or a sensor.

Every asset reaches the warehouse through :class:`WarehouseResource` (resource key
``warehouse``), which opens connections with :func:`warehouse.connection.connect`: the same
memory cap, offline extensions and spill directory as every other writer. While a step holds
the resource, the process umask is private (077, ``warehouse.filemodes``): the build database,
its WAL, spill files and the vault are created 0600, by this process and by the dbt process a
dbt step starts; the publication sets its own BI-group modes. Released when the step ends.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from warehouse.config import settings
from warehouse.connection import connect
from warehouse.filemodes import acquire_private_umask, release_private_umask

WAREHOUSE_WRITER_POOL = "duckdb_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The build warehouse (``CRMW_WAREHOUSE_PATH``)."""

    database: str

    @property
    def path(self) -> Path:
        """The database file, for the runtime functions that open it themselves (extraction,
        publication, the PII vault) with the connection settings they need."""
        return Path(self.database)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        acquire_private_umask()
        _run_start_recovery(context)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:  # noqa: ARG002
        release_private_umask()

    @contextmanager
    def get_connection(self, *, read_only: bool = False,
                       extensions: tuple[str, ...] = ()) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.database, read_only=read_only, extensions=extensions)
        try:
            yield con
        finally:
            con.close()


def _run_start_recovery(context: dg.InitResourceContext) -> None:
    """At the start of every run that uses the warehouse (CLI, UI, schedule, sensor): tag the
    run with this process and recover runs whose process died, before any step waits for the
    pool (``orchestration/recovery.py``)."""
    instance, run = context.instance, context.dagster_run
    if instance is None or run is None:
        return
    from orchestration.recovery import recover_quietly

    log = context.log
    recover_quietly(instance, by=f"the start of run {run.run_id}", run=run,
                    log=log.warning if log else None, warn=log.warning if log else None)


def warehouse_resource() -> WarehouseResource:
    """The resource for the warehouse the settings name now (``CRMW_WAREHOUSE_PATH``)."""
    return WarehouseResource(database=str(settings().warehouse_path))


#: The instance in the code location. An area whose Definitions must resolve on their own (the
#: dbt area, in its tests) lists this same object: ``Definitions.merge`` accepts a key twice
#: only for the same object.
WAREHOUSE = warehouse_resource()

defs = dg.Definitions(resources={"warehouse": WAREHOUSE})
