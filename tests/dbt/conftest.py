"""One simulated world, extracted and built by dbt once per test session (see
dbt_test_helpers.py); tests read it read-only and copy it to change it."""

from __future__ import annotations

import json

import pytest
from dbt_test_helpers import BuiltWarehouse, run_dbt, simulate_and_extract


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> BuiltWarehouse:
    root = tmp_path_factory.mktemp("dbt_build")
    sources_dir = root / "sources"
    warehouse_path = root / "warehouse.duckdb"
    target_path = root / "target"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        simulate_and_extract(sources_dir, warehouse_path, mp)
        run_dbt(["build"], warehouse_path, target_path)
    run_results = json.loads((target_path / "run_results.json").read_text())
    return BuiltWarehouse(root, sources_dir, warehouse_path, target_path, run_results)


def pytest_collection_modifyitems(items):
    """Every test here builds or reads a dbt project built from a simulated world (about a
    minute before the first test): they belong to the slow tier, not to `make test-fast`."""
    for item in items:
        if "/tests/dbt/" in str(item.path):
            item.add_marker(pytest.mark.slow)
