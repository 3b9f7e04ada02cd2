"""The suites on the real thing: simulator sources, extraction assets, checks, in Dagster.

A few hundred simulated customers over a short history are extracted by the ingest area's
assets with every raw suite attached as asset checks. With the simulator's default defect
rates no blocking check fails (raw data is dirty by design, within the warn thresholds);
with raised defect rates warn checks fail, nothing blocks, and the scorecard drops.
"""

import dataclasses

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from expectations.results import latest_scorecard
from expectations.suite_files import load_suites
from orchestration.defs.quality.checks import build_suite_checks

pytestmark = pytest.mark.slow


def _simulate_and_check(root, monkeypatch, **defects):
    from orchestration.defs.ingest import ingest_assets
    from simulator.config import DefectRates, SimConfig
    from simulator.world import simulate

    wh = root / "wh" / "warehouse.duckdb"
    wh.parent.mkdir(parents=True)
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(root / "sources"))
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(wh))
    monkeypatch.delenv("CRMW_ERP_URL", raising=False)
    monkeypatch.delenv("CRMW_ECOMMERCE_DIR", raising=False)
    monkeypatch.delenv("CRMW_SERVICE_DESK_DIR", raising=False)
    rates = dataclasses.replace(DefectRates(), **defects)
    simulate(SimConfig(customers=400, history_days=30, out_dir=root / "sources",
                       defects=rates, verbose=False))
    result = dg.materialize(
        [*ingest_assets, *build_suite_checks(
            s for s in load_suites() if s.schema.startswith("raw_"))],
        resources={"duckdb": DuckDBResource(database=str(wh))}, raise_on_error=False)
    evaluations = [e for e in result.get_asset_check_evaluations()
                   if e.check_name != "no_quarantined_lines"]
    con = duckdb.connect(str(wh), read_only=True)
    scores = {(r[0], r[1]): r for r in latest_scorecard(con)}
    con.close()
    return result, evaluations, scores


def test_simulated_sources_pass_then_defects_warn_and_lower_the_scorecard(
        tmp_path, monkeypatch):
    suites = [s for s in load_suites() if s.schema.startswith("raw_")]
    clean, evals, clean_scores = _simulate_and_check(tmp_path / "clean", monkeypatch)
    assert clean.success
    assert len(evals) == sum(len(s.expectations) for s in suites)
    blocking_failures = [e.check_name for e in evals
                         if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert not blocking_failures
    failed = sorted(f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evals
                    if not e.passed)
    assert not failed, failed

    dirty, evals, dirty_scores = _simulate_and_check(
        tmp_path / "dirty", monkeypatch, missing_value=0.4, unknown_status=0.2,
        negative_quantity=0.2, invalid_birth_date=0.3)
    assert dirty.success  # warn failures never block
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in evals if not e.passed}
    assert ("raw_erp/sales_orders", "status_in_allowed_set") in failed
    assert ("raw_erp/sales_order_lines", "quantity_in_range") in failed
    assert ("raw_erp/members", "birth_date_is_a_date") in failed
    assert all(e.severity == dg.AssetCheckSeverity.WARN for e in evals if not e.passed)
    for table in (("erp", "sales_orders"), ("erp", "members"), ("erp", "sales_order_lines")):
        assert dirty_scores[table][7] < clean_scores[table][7]  # overall score
