"""The code location loads and validates the way the UI and `dagster` CLI load it."""

import os
import subprocess
import sys

from warehouse.config import REPO_ROOT


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
