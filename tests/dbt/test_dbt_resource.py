"""The dbt resource starts dbt without building a dbt adapter in the Dagster process."""

from __future__ import annotations

import os
import subprocess

from dagster_dbt import DbtCliResource

from orchestration.defs.dbt.project import crm_dbt_project, dbt_executable
from orchestration.defs.dbt.resource import WarehouseDbtCliResource


def test_the_overridden_method_still_exists_in_dagster_dbt():
    """The override targets a private method: an upgrade that renames it must fail here,
    not silently bring the per-step adapter cost back."""
    for name in ("_initialize_dbt_core_adapter", "_cli_version", "cli"):
        assert name in vars(DbtCliResource), name
        assert name in vars(WarehouseDbtCliResource), name
    import dagster_dbt.asset_utils as asset_utils

    for name in ("get_subset_selection_for_context", "get_manifest_and_translator_from_dbt_assets",
                 "DAGSTER_DBT_SELECT_METADATA_KEY", "DAGSTER_DBT_EXCLUDE_METADATA_KEY",
                 "DAGSTER_DBT_SELECTOR_METADATA_KEY"):
        assert hasattr(asset_utils, name), name


def test_the_version_read_in_process_is_the_version_the_executable_reports():
    dbt = WarehouseDbtCliResource(project_dir=crm_dbt_project(), dbt_executable=dbt_executable())
    reported = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True,
                              check=True).stdout
    assert dbt._cli_version.major == 1
    assert str(dbt._cli_version) in reported


def test_dbt_runs_and_no_adapter_is_registered_in_this_process(tmp_path, monkeypatch):
    from dbt.adapters.factory import FACTORY, reset_adapters

    # what crm-warehouse exports for the dbt processes it starts (profiles.yml reads it)
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    reset_adapters()
    project = crm_dbt_project()
    dbt = WarehouseDbtCliResource(project_dir=project, dbt_executable=dbt_executable())
    invocation = dbt.cli(["ls", "--resource-type", "seed"],
                         target_path=tmp_path / "target").wait()
    assert invocation.is_successful()
    assert invocation.adapter is None
    assert FACTORY.adapters == {}


class _NoEvents:
    """Stands in for a dbt invocation that built nothing."""

    def stream(self):
        return iter(())


def test_asset_steps_select_tests_buildable_unless_dagster_dbt_lists_them(tmp_path,
                                                                        monkeypatch):
    """The indirect selection is on the dbt command line (the process environment is left
    alone), and left out where dagster-dbt sets ``empty`` itself: a subset whose assets have
    unselected checks, where it lists the selected tests."""
    import dagster as dg

    from orchestration.defs import dbt
    from orchestration.defs.resources import WarehouseResource

    commands = []

    def record(self, args, *, context=None, **kwargs):
        commands.append(list(args))
        return _NoEvents()

    monkeypatch.setattr(DbtCliResource, "cli", record)
    monkeypatch.delenv("DBT_INDIRECT_SELECTION", raising=False)
    seeds = next(a for a in dbt.defs.assets if a.op.name == "dbt_seeds")
    resources = {"dbt": WarehouseDbtCliResource(project_dir=crm_dbt_project(),
                                                dbt_executable=dbt_executable()),
                 "warehouse": WarehouseResource(database=str(tmp_path / "w.duckdb"))}
    fx_rates = dg.AssetSelection.assets(dg.AssetKey(["staging", "fx_rates"]))
    for selection in (None, fx_rates, fx_rates.without_checks()):
        assert dg.materialize([seeds], selection=selection, resources=resources,
                              instance=dg.DagsterInstance.ephemeral()).success
    assert commands == [["build", "--indirect-selection", "buildable"],
                        ["build", "--indirect-selection", "buildable"],
                        ["build"]]
    assert "DBT_INDIRECT_SELECTION" not in os.environ
