"""Fixtures: a temporary warehouse with a clean raw layer, and the suite runner around it."""

from __future__ import annotations

import duckdb
import pytest

from expectations.results import write_suite_run
from expectations.runner import validate_suite
from expectations.suite_files import load_suites

from .raw_fixture import write_raw_layer


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


def run_suites(path, suite_list, run_id, **kwargs):
    """Validate and record suites the way the Dagster check does; returns the SuiteRuns."""
    runs = []
    con = duckdb.connect(str(path))
    try:
        for suite in suite_list:
            run = validate_suite(con, suite, run_id=run_id, gx_dir=path.parent / "artifacts/gx",
                                 docs_dir=path.parent / "data_docs", **kwargs)
            write_suite_run(con, run, "/".join(suite.asset_key_path))
            runs.append(run)
    finally:
        con.close()
    return runs


def outcome(run, expectation_id):
    return next(o for o in run.outcomes if o.spec.id == expectation_id)
