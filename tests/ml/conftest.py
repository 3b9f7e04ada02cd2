"""Shared fixtures for the ml tests: a synthetic warehouse with a known truth, built once."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import ml_synthetic_marts  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_warehouse(tmp_path_factory) -> tuple[Path, Path]:
    """(DuckDB file, truth dir) of a 3,000-person synthetic warehouse; read it, never write."""
    root = tmp_path_factory.mktemp("ml_synthetic")
    db, truth = root / "warehouse.duckdb", root / "sources" / "_truth"
    con = duckdb.connect(str(db))
    try:
        ml_synthetic_marts.write_warehouse(con, ml_synthetic_marts.simulate(3000, seed=11), truth)
    finally:
        con.close()
    return db, truth


@pytest.fixture
def synthetic_copy(synthetic_warehouse, tmp_path) -> tuple[Path, Path]:
    """A private writable copy of the synthetic warehouse for tests that write outputs."""
    import shutil

    db, truth = synthetic_warehouse
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(db, target)
    return target, truth


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Never touch the repository's warehouse/ or demo_sources/ from a test."""
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "default_warehouse.duckdb"))
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "default_sources"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for name in ("CRMW_ML_AS_OF", "CRMW_ML_CHURN_HORIZON_DAYS", "CRMW_ML_ACTIVE_LOOKBACK_DAYS",
                 "CRMW_ML_REFIT_DAYS"):
        monkeypatch.delenv(name, raising=False)
