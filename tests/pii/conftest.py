"""Fixtures for the PII tests: a synthetic warehouse in a temporary folder, keys from tmp."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import serving_warehouse  # noqa: E402

KEY_HEX = "5e" * 32


@pytest.fixture
def pii_env(tmp_path, monkeypatch):
    """CRMW_* pointing into tmp_path; keys from the environment, as in production."""
    folder = tmp_path / "warehouse"
    folder.mkdir()
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(folder / "warehouse.duckdb"))
    monkeypatch.setenv("CRMW_PII_KEY", "test-vault-key-" + "x" * 20)
    monkeypatch.setenv("CRMW_PSEUDONYM_KEY", KEY_HEX)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return folder


@pytest.fixture
def synthetic_warehouse(pii_env):
    path = pii_env / "warehouse.duckdb"
    serving_warehouse.build(path, key=bytes.fromhex(KEY_HEX))
    return path
