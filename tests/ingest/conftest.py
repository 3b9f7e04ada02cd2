"""Every ingest test runs against a temporary warehouse, source directory and Dagster home."""

from __future__ import annotations

import pytest

from warehouse.config import settings


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Point every CRMW_* path (and DAGSTER_HOME) at tmp_path; return the resolved settings."""
    sources = tmp_path / "sources"
    (sources / "erp").mkdir(parents=True)
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(sources))
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "wh" / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for name in ("CRMW_ERP_URL", "CRMW_ECOMMERCE_DIR", "CRMW_SERVICE_DESK_DIR"):
        monkeypatch.delenv(name, raising=False)
    return settings()
