"""Fixtures of the ml tests: a writable copy of the synthetic warehouse (built once, in
tests/conftest.py) and settings that never touch the repository's data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


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
    """Never touch the repository's data/ (warehouse files, demo sources) from a test."""
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "default_warehouse.duckdb"))
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "default_sources"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for name in ("CRMW_ML_AS_OF", "CRMW_ML_CHURN_HORIZON_DAYS", "CRMW_ML_ACTIVE_LOOKBACK_DAYS",
                 "CRMW_ML_REFIT_DAYS", "CRMW_ML_THREADS", "CRMW_ML_CLV_MONTHS",
                 "CRMW_ML_MONTHLY_DISCOUNT_RATE", "CRMW_ML_ACQUISITION_COST"):
        monkeypatch.delenv(name, raising=False)
