"""The dbt project as Dagster assets: keys, groups, lineage from the raw assets, checks, and a
real materialization on a temporary warehouse."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from orchestration.defs.dbt.project import crm_dbt_project, ensure_manifest, manifest_is_stale


def _graph():
    from orchestration.defs import dbt

    return dbt.defs.resolve_asset_graph()


def test_models_are_assets_keyed_by_schema_and_grouped_by_folder():
    graph = _graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for key in ["staging/stg_erp__members", "intermediate/int_customer_identity_map",
                "marts/dim_customer", "marts/fct_events", "marts/customer_360",
                "snapshots/dim_customer_history", "staging/fx_rates"]:
        assert key in keys, key
    assert graph.get(dg.AssetKey(["staging", "stg_erp__members"])).group_name == "staging"
    assert graph.get(dg.AssetKey(["intermediate", "int_customer_golden"])).group_name == \
        "intermediate"
    assert graph.get(dg.AssetKey(["marts", "kpi_daily"])).group_name == "marts"
    base = graph.get(dg.AssetKey(["staging", "base_erp__members"]))
    assert dg.AssetKey(["raw_erp", "members"]) in base.parent_keys
    events = graph.get(dg.AssetKey(["staging", "base_ecommerce__events"]))
    assert dg.AssetKey(["raw_ecommerce", "events"]) in events.parent_keys


def test_each_dbt_step_builds_its_own_part_of_the_project():
    """One @dbt_assets definition per step of a run, named for what it builds; every dbt
    node is in exactly one of them."""
    from orchestration.defs import dbt

    steps = {a.op.name: {k.to_user_string() for k in a.keys} for a in dbt.defs.assets}
    assert set(steps) == {"dbt_seeds", "dbt_staging_and_marts", "dbt_incremental_facts",
                          "dbt_marts_after_ml"}
    assert steps["dbt_seeds"] == {"staging/fx_rates", "staging/rfm_segments"}
    assert steps["dbt_incremental_facts"] == {"marts/fct_events", "marts/fct_order_lines"}
    assert "marts/customer_360" in steps["dbt_marts_after_ml"]
    assert "marts/dim_customer" in steps["dbt_staging_and_marts"]
    every = [key for keys in steps.values() for key in keys]
    assert len(every) == len(set(every)) == len(_graph().get_all_asset_keys()
                                                - _graph().external_asset_keys)


def test_dbt_tests_are_asset_checks():
    checks = {(c.asset_key.to_user_string(), c.name) for c in _graph().asset_check_keys}
    assert any(a == "staging/stg_erp__members" and "reconciles_with_raw" in n for a, n in checks)
    assert any(a == "marts/dim_customer" and n.startswith("unique_") for a, n in checks)
    assert len(checks) > 150


def test_manifest_is_rebuilt_when_missing(tmp_path, monkeypatch):
    """A fresh clone has no dbt_project/target: the manifest is parsed on first load."""
    from dagster_dbt import DbtProject

    from warehouse.config import DBT_PROJECT_DIR

    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR,
                         target_path=tmp_path / "target")
    assert not project.manifest_path.exists()
    ensure_manifest(project)
    assert project.manifest_path.exists()
    assert not manifest_is_stale(project)
    os.utime(project.manifest_path, (0, 0))  # older than every model file: stale
    assert manifest_is_stale(project)
    assert crm_dbt_project().manifest_path.exists()


@pytest.mark.slow
def test_materialize_dbt_assets_on_a_temporary_warehouse(built_warehouse, tmp_path,
                                                         monkeypatch):
    from orchestration.defs import dbt
    from orchestration.defs.resources import warehouse_resource

    copy = built_warehouse.copy_to(tmp_path / "wh")
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(copy))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    selection = [dg.AssetKey(["staging", k]) for k in
                 ("base_erp__stores", "stg_erp__stores", "stg_erp__stores_rejected")]
    selection.append(dg.AssetKey(["marts", "fct_events"]))
    result = dg.materialize(
        dbt.defs.assets,
        selection=selection,
        resources={**dbt.defs.resources, "warehouse": warehouse_resource()},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    materialized = {e.event_specific_data.materialization.asset_key
                    for e in result.get_asset_materialization_events()}
    assert set(selection) <= materialized
    stores = next(e.event_specific_data.materialization
                  for e in result.get_asset_materialization_events()
                  if e.event_specific_data.materialization.asset_key == selection[1])
    assert stores.metadata["dagster/row_count"].value > 0
    checks = result.get_asset_check_evaluations()
    recon = [c for c in checks if c.asset_key == selection[1]
             and "reconciles_with_raw" in c.check_name]
    assert recon and all(c.passed for c in recon)
