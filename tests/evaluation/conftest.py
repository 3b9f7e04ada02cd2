"""Fixtures of the evaluation tests: a synthetic warehouse (tests/conftest.py) with one churn
training written, and settings that never touch the repository's data."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from ml.churn import training
from ml.shared.settings import MlSettings

RUN_ID = "test-churn"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Never touch the repository's data/ (warehouse files, demo sources) from a test."""
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "default_warehouse.duckdb"))
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "default_sources"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))


@pytest.fixture(scope="session")
def trained_warehouse(synthetic_warehouse, tmp_path_factory) -> tuple[Path, Path]:
    """(DuckDB file, truth dir): the synthetic warehouse after one churn training (run id
    ``test-churn``) wrote its scores and candidates. Tests copy it before writing."""
    db, truth = synthetic_warehouse
    root = tmp_path_factory.mktemp("evaluation")
    target = root / "warehouse.duckdb"
    shutil.copy(db, target)
    con = duckdb.connect(str(target))
    try:
        result = training.train_and_score(con, settings=MlSettings(), run_id=RUN_ID,
                                          artifacts_root=root / "artifacts")
        training.write_outputs(con, result)
    finally:
        con.close()
    return target, truth


@pytest.fixture
def churn_run_id() -> str:
    """The run id of the churn training in :func:`trained_warehouse`."""
    return RUN_ID


@pytest.fixture
def trained_copy(trained_warehouse, tmp_path) -> tuple[Path, Path]:
    """A private writable copy of :func:`trained_warehouse`."""
    db, truth = trained_warehouse
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(db, target)
    return target, truth
