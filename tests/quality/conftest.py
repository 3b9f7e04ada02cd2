"""Fixtures: a temporary warehouse with a clean raw layer, and the suite runner around it."""

from __future__ import annotations

import pytest
from quality_fixtures import write_raw_layer

from expectations.suite_files import load_suites


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    """A temporary warehouse path with the CRMW_* settings and DAGSTER_HOME pointing at it."""
    path = tmp_path / "wh" / "warehouse.duckdb"
    path.parent.mkdir()
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(path))
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "sources"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    write_raw_layer(path, n_customers=200)
    return path


@pytest.fixture(scope="session")
def suites():
    return {s.name: s for s in load_suites()}
