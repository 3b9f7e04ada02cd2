"""dbt models, seeds, snapshots and tests as Dagster assets and asset checks.

Two @dbt_assets share the project: the incremental facts (fct_events, fct_order_lines) run in
their own partitioned definition, everything else in one. Both run ``dbt build`` (models,
seeds, snapshots, tests and unit tests), report row counts and column types to the UI, and
take the single ``duckdb_warehouse`` pool slot: dbt is the only writer while it runs, with
``threads: 1``.

Partitions of the incremental facts are months of the data. A partitioned run rebuilds the
rows of its months (vars incremental_start / incremental_end); an unpartitioned run, which is
what ``build_everything`` and ``crm-warehouse run`` launch, processes whatever was extracted
since the last build, and both give the same table as a full refresh.
"""


import json
import os
from collections.abc import Iterator

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, dbt_assets
from dagster_dbt.asset_utils import DBT_INDIRECT_SELECTION_ENV

from orchestration.defs.dbt.project import crm_dbt_project
from orchestration.defs.dbt.translator import CrmDbtTranslator
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL
from warehouse.connection import connect

# The partitioned facts. The incremental base models of the click-stream (staging) stay in the
# main dbt step: everything in it reads them.
INCREMENTAL_SELECTOR = "config.materialized:incremental,path:models/marts"

incremental_partitions = dg.MonthlyPartitionsDefinition(start_date="2020-01-01",
                                                        end_offset=1)


def _stream(context: dg.AssetExecutionContext, invocation) -> Iterator:
    """dbt events as Dagster events, with row counts and column types added once dbt is done.

    dagster-dbt's ``fetch_row_counts()`` / ``fetch_column_metadata()`` query the warehouse from
    this process *while* dbt runs; on DuckDB, a single-writer file, that races with the dbt
    process for the lock (dbt fails with "Could not set lock"). So the events are collected
    until dbt exits and the metadata is read then, in one read-only connection."""
    events, error = [], None
    try:
        for event in invocation.stream():
            events.append(event)
    except Exception as exc:  # dbt failed: still report what it did build
        error = exc
    yield from with_table_metadata(context, events)
    if error is not None:
        raise error


def with_table_metadata(context: dg.AssetExecutionContext, events: list) -> Iterator:
    """Add dagster/row_count and dagster/column_schema to each materialized relation."""
    outputs = [e for e in events if isinstance(e, dg.Output)]
    relations = {e.output_name: context.asset_key_for_output(e.output_name).path
                 for e in outputs}
    metadata = {}
    if relations:
        try:
            metadata = relation_metadata(list(relations.values()))
        except duckdb.Error as exc:  # metadata is a nicety: never fail a good build for it
            context.log.warning(f"row counts and column types not read: {exc}")
    for event in events:
        if isinstance(event, dg.Output):
            extra = metadata.get(tuple(relations[event.output_name]))
            if extra:
                event = event.with_metadata({**event.metadata, **extra})
        yield event


def relation_metadata(relations: list[list[str]]) -> dict[tuple[str, ...], dict]:
    """Row count and column schema of each [schema, table] in the build warehouse."""
    found: dict[tuple[str, ...], dict] = {}
    with connect(read_only=True) as con:
        columns: dict[tuple[str, str], list[dg.TableColumn]] = {}
        for schema, table, name, dtype in con.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns order by table_schema, table_name, "
            "ordinal_position"
        ).fetchall():
            columns.setdefault((schema, table), []).append(dg.TableColumn(name, dtype))
        for path in relations:
            if len(path) != 2 or tuple(path) not in columns:
                continue
            schema, table = path
            rows = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            found[tuple(path)] = {
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/column_schema": dg.TableSchema(columns=columns[tuple(path)]),
            }
    return found


def _build(dbt: DbtCliResource, args: list[str], context: dg.AssetExecutionContext):
    """Start dbt with indirect test selection "buildable": a test runs in the step where all
    of its parents are built (or upstream), never earlier. The job splits the dbt models into
    several steps (incremental facts, and customer_360 after the ML scores); with dbt's default
    "eager" selection a relationships test between two steps ran before its second table
    existed. dagster-dbt reads the variable when it computes a subset's selection."""
    os.environ[DBT_INDIRECT_SELECTION_ENV] = "buildable"
    return dbt.cli(args, context=context)


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
    yield from _stream(context, _build(dbt, ["build"], context))


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
    yield from _stream(context, _build(dbt, args, context))
