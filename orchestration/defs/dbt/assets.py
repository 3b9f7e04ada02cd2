"""dbt models, seeds, snapshots and tests as Dagster assets and asset checks.

Two @dbt_assets share the project: the incremental facts (fct_events, fct_order_lines) run in
their own partitioned definition, everything else in one. Both run ``dbt build`` (models,
seeds, snapshots, tests and unit tests), stream row counts and column metadata into the UI,
and take the single ``duckdb_warehouse`` pool slot: dbt is the only writer while it runs, with
``threads: 1``.

Partitions of the incremental facts are months of the data. A partitioned run rebuilds the
rows of its months (vars incremental_start / incremental_end); an unpartitioned run, which is
what ``build_everything`` and ``crm-warehouse run`` launch, processes whatever was extracted
since the last build, and both give the same table as a full refresh.
"""


import json
from collections.abc import Iterator

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import crm_dbt_project
from orchestration.defs.dbt.translator import CrmDbtTranslator
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL

INCREMENTAL_SELECTOR = "config.materialized:incremental"

incremental_partitions = dg.MonthlyPartitionsDefinition(start_date="2020-01-01",
                                                        end_offset=1)


def _stream(invocation) -> Iterator:
    """dbt events as Dagster events, with row counts and column metadata. Those two are
    queried through dbt's DuckDB adapter inside this process; its connection is closed at the
    end, or it would hold the warehouse's single-writer lock into the next step."""
    try:
        yield from invocation.stream().fetch_row_counts().fetch_column_metadata()
    finally:
        release_in_process_duckdb()


def release_in_process_duckdb() -> None:
    """Close the DuckDB connection dbt-duckdb keeps in this process (if any)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        env.close()


@dbt_assets(
    manifest=crm_dbt_project().manifest_path,
    project=crm_dbt_project(),
    exclude=INCREMENTAL_SELECTOR,
    dagster_dbt_translator=CrmDbtTranslator(),
    name="dbt_warehouse",
    pool=WAREHOUSE_WRITER_POOL,
)
def dbt_warehouse(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Staging, identity resolution, marts, seeds and snapshots (dbt build)."""
    yield from _stream(dbt.cli(["build"], context=context))


@dbt_assets(
    manifest=crm_dbt_project().manifest_path,
    project=crm_dbt_project(),
    select=INCREMENTAL_SELECTOR,
    dagster_dbt_translator=CrmDbtTranslator(),
    name="dbt_incremental_facts",
    pool=WAREHOUSE_WRITER_POOL,
    partitions_def=incremental_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def dbt_incremental_facts(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """fct_events and fct_order_lines, incremental (dbt build)."""
    args = ["build"]
    if context.has_partition_key_range or context.has_partition_key:
        window = context.partition_time_window
        args += ["--vars", json.dumps({
            "incremental_start": window.start.strftime("%Y-%m-%d"),
            "incremental_end": window.end.strftime("%Y-%m-%d"),
        })]
    yield from _stream(dbt.cli(args, context=context))
