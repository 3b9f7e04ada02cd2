"""The code location loads and validates the way the UI and `dagster` CLI load it."""

import os
import subprocess
import sys

import pytest

from warehouse.config import REPO_ROOT


@pytest.mark.slow
def test_dagster_definitions_validate(tmp_path):
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path),
               CRMW_WAREHOUSE_PATH=str(tmp_path / "w.duckdb"))
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m",
         "orchestration.definitions"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passed validation" in proc.stdout + proc.stderr


def test_every_asset_has_a_description_owner_and_group():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    missing = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.description:
            missing.append(f"{key.to_user_string()}: no description")
        if not node.owners:
            missing.append(f"{key.to_user_string()}: no owner")
        if node.group_name == "default":
            missing.append(f"{key.to_user_string()}: in the default group")
    assert not missing, "\n".join(missing)


@pytest.mark.slow
def test_dg_check_defs_passes_from_the_repository_root(tmp_path):
    """``dg check defs`` (dagster-dg-cli, configured by ``[tool.dg]`` in pyproject.toml) loads
    ``orchestration.definitions:defs`` in a code server and validates every definition, as
    CI does. The settings are the ones of this shell: nothing is exported first."""
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    dg_cli = os.path.join(os.path.dirname(sys.executable), "dg")
    proc = subprocess.run([dg_cli, "check", "defs"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All definitions loaded successfully." in proc.stdout


@pytest.mark.slow
def test_loading_the_code_location_changes_no_environment_variable():
    """Only the ``crm-warehouse`` entry point exports settings (for the processes it starts);
    importing the definitions, as ``dagster dev``, ``dg`` and tests do, leaves the process
    environment as it found it."""
    code = ("import os; before = dict(os.environ); import orchestration.definitions; "
            "changed = sorted(k for k in set(before) | set(os.environ) "
            "if before.get(k) != os.environ.get(k)); print(changed)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_each_dbt_definition_runs_as_one_step_named_for_it():
    """build_everything runs each dbt definition in one step: Dagster splits a definition into
    steps ``<name>``, ``<name>_2``, ... when it both feeds and follows other assets."""
    from dagster._core.execution.api import create_execution_plan

    from orchestration.definitions import defs

    job = defs.resolve_job_def("build_everything")
    steps = [s.key for s in create_execution_plan(job).get_all_steps_in_topo_order()]
    dbt_steps = [k for k in steps if k.startswith("dbt_")]
    assert sorted(dbt_steps) == ["dbt_incremental_facts", "dbt_marts_after_ml", "dbt_seeds",
                                 "dbt_staging_and_marts"]
    assert steps.index("dbt_marts_after_ml") > steps.index("ml__churn_scores")
    assert steps.index("dbt_staging_and_marts") < steps.index("ml__churn_scores")
