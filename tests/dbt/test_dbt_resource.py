"""The dbt resource starts dbt without building a dbt adapter in the Dagster process."""

from __future__ import annotations

import subprocess

from dagster_dbt import DbtCliResource

from orchestration.defs.dbt.project import crm_dbt_project, dbt_executable
from orchestration.defs.dbt.resource import WarehouseDbtCliResource


def test_the_overridden_method_still_exists_in_dagster_dbt():
    """The override targets a private method: an upgrade that renames it must fail here,
    not silently bring the per-step adapter cost back."""
    for name in ("_initialize_dbt_core_adapter", "_cli_version"):
        assert name in vars(DbtCliResource), name
        assert name in vars(WarehouseDbtCliResource), name


def test_the_version_read_in_process_is_the_version_the_executable_reports():
    dbt = WarehouseDbtCliResource(project_dir=crm_dbt_project(), dbt_executable=dbt_executable())
    reported = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True,
                              check=True).stdout
    assert dbt._cli_version.major == 1
    assert str(dbt._cli_version) in reported


def test_dbt_runs_and_no_adapter_is_registered_in_this_process(tmp_path):
    from dbt.adapters.factory import FACTORY, reset_adapters

    reset_adapters()
    project = crm_dbt_project()
    dbt = WarehouseDbtCliResource(project_dir=project, dbt_executable=dbt_executable())
    invocation = dbt.cli(["ls", "--resource-type", "seed"],
                         target_path=tmp_path / "target").wait()
    assert invocation.is_successful()
    assert invocation.adapter is None
    assert FACTORY.adapters == {}
