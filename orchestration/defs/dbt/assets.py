"""dbt models, seeds, snapshots and tests as Dagster assets and asset checks.

One factory, :func:`dbt_step_assets`, builds every ``@dbt_assets`` definition of the project
from :data:`DBT_STEPS`: each definition is one step of a run, named for what it builds, and
every dbt node belongs to exactly one of them (the first step whose selection matches it):

* ``dbt_seeds``: the reference tables (currency rates, RFM segments), which read nothing;
* ``dbt_incremental_facts``: fct_events and fct_order_lines, incremental and partitioned;
* ``dbt_marts_after_ml``: the marts that read the ML scores (``source:ml+``, customer_360),
  so they run after the ml assets;
* ``dbt_staging_and_marts``: everything else: staging, identity resolution, marts, snapshots.

A definition that both fed the ML assets and read their scores would be split by Dagster into
steps named ``<name>``, ``<name>_2``, ...; splitting by dependency here keeps one step per
definition. Each step runs ``dbt build`` (models, seeds, snapshots, tests and unit tests),
reports row counts and column types to the UI, and takes the single ``duckdb_warehouse`` pool
slot: dbt is the only writer while it runs, with ``threads: 1``. Tests run in the step where
all of their parents are built (indirect selection ``buildable``, set by the dbt resource).

Partitions of the incremental facts are months of the data. A partitioned run rebuilds the
rows of its months (vars incremental_start / incremental_end); an unpartitioned run, which is
what ``build_everything`` and ``crm-warehouse run`` launch, processes whatever was extracted
since the last build, and both give the same table as a full refresh.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import crm_dbt_project
from orchestration.defs.dbt.translator import CrmDbtTranslator
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource

#: The partitioned facts. The incremental base models of the click-stream (staging) stay in
#: ``dbt_staging_and_marts``: everything in it reads them.
INCREMENTAL_SELECTOR = "config.materialized:incremental,path:models/marts"
#: Everything that reads the scores of the ml assets (dbt sources ``ml``).
AFTER_ML_SELECTOR = "source:ml+"
SEEDS_SELECTOR = "resource_type:seed"

incremental_partitions = dg.MonthlyPartitionsDefinition(start_date="2020-01-01",
                                                        end_offset=1)


@dataclass(frozen=True)
class DbtStep:
    """One ``@dbt_assets`` definition: the step ``name`` builds the dbt nodes ``select``
    matches that no earlier step of :data:`DBT_STEPS` took."""

    name: str
    select: str
    description: str
    partitions_def: dg.PartitionsDefinition | None = None


DBT_STEPS = (
    DbtStep("dbt_seeds", SEEDS_SELECTOR,
            "Reference seeds: currency rates and RFM segment rules (dbt build)."),
    DbtStep("dbt_incremental_facts", INCREMENTAL_SELECTOR,
            "fct_events and fct_order_lines, incremental (dbt build).",
            partitions_def=incremental_partitions),
    DbtStep("dbt_marts_after_ml", AFTER_ML_SELECTOR,
            "Marts that read the ML scores (customer_360), after the ml assets (dbt build)."),
    DbtStep("dbt_staging_and_marts", "fqn:*",
            "Staging, identity resolution, marts and snapshots (dbt build)."),
)


def _stream(context: dg.AssetExecutionContext, invocation,
            warehouse: WarehouseResource) -> Iterator:
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
    yield from with_table_metadata(context, events, warehouse)
    if error is not None:
        raise error


def with_table_metadata(context: dg.AssetExecutionContext, events: list,
                        warehouse: WarehouseResource) -> Iterator:
    """Add dagster/row_count and dagster/column_schema to each materialized relation."""
    outputs = [e for e in events if isinstance(e, dg.Output)]
    relations = {e.output_name: context.asset_key_for_output(e.output_name).path
                 for e in outputs}
    metadata = {}
    if relations:
        try:
            metadata = relation_metadata(warehouse, list(relations.values()))
        except duckdb.Error as exc:  # metadata is a nicety: never fail a good build for it
            context.log.warning(f"row counts and column types not read: {exc}")
    for event in events:
        if isinstance(event, dg.Output):
            extra = metadata.get(tuple(relations[event.output_name]))
            if extra:
                event = event.with_metadata({**event.metadata, **extra})
        yield event


def relation_metadata(warehouse: WarehouseResource,
                      relations: list[list[str]]) -> dict[tuple[str, ...], dict]:
    """Row count and column schema of each [schema, table] in the build warehouse."""
    found: dict[tuple[str, ...], dict] = {}
    with warehouse.get_connection(read_only=True) as con:
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


def _build_args(context: dg.AssetExecutionContext, step: DbtStep) -> list[str]:
    """``dbt build``; for a partitioned step in a partitioned run, limited to its months."""
    args = ["build"]
    if step.partitions_def and (context.has_partition_key_range or context.has_partition_key):
        window = context.partition_time_window
        args += ["--vars", json.dumps({
            "incremental_start": window.start.strftime("%Y-%m-%d"),
            "incremental_end": window.end.strftime("%Y-%m-%d"),
        })]
    return args


def dbt_step_assets(step: DbtStep, taken: list[str]) -> dg.AssetsDefinition:
    """The ``@dbt_assets`` of ``step``, without the nodes the selections ``taken`` match."""

    def build(context: dg.AssetExecutionContext, dbt: DbtCliResource,
              warehouse: WarehouseResource):
        yield from _stream(context, dbt.cli(_build_args(context, step), context=context), warehouse)

    build.__doc__ = step.description  # the step's description in the UI
    return dbt_assets(
        manifest=crm_dbt_project().manifest_path,
        project=crm_dbt_project(),
        select=step.select,
        exclude=" ".join(taken) or None,
        dagster_dbt_translator=CrmDbtTranslator(),
        name=step.name,
        pool=WAREHOUSE_WRITER_POOL,
        partitions_def=step.partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if step.partitions_def else None,
    )(build)


def _all_steps() -> list[dg.AssetsDefinition]:
    return [dbt_step_assets(step, [s.select for s in DBT_STEPS[:i]])
            for i, step in enumerate(DBT_STEPS)]


dbt_step_definitions = _all_steps()
