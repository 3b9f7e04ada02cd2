"""The suites on the real thing: simulator sources, extraction assets, checks, in Dagster.

A few hundred simulated customers over a month are extracted by the ingest area's assets with
every raw suite attached as asset checks: with the simulator's default defect rates (raw data
is dirty by design) every check passes. Then a defective service-desk export file is
delivered: priorities outside the allowed codes fail a ``warn`` check, a ticket without id
fails the blocking ``error`` check, the downstream asset is not materialized, and the
scorecard of the table drops.
"""

import csv

import dagster as dg
import duckdb
import pytest

from expectations.results import latest_scorecard
from expectations.suite_files import load_suites
from orchestration.defs.quality.checks import build_suite_checks
from orchestration.defs.resources import WarehouseResource

pytestmark = pytest.mark.slow
TICKETS = dg.AssetKey(["raw_service", "tickets"])
DOWNSTREAM = dg.AssetKey(["staging", "stg_service_desk__tickets"])


@dg.asset(key=DOWNSTREAM, deps=[TICKETS], group_name="staging")
def stg_tickets(warehouse: WarehouseResource):
    """Stands in for the dbt staging model that reads the raw tickets."""
    with warehouse.get_connection() as con:
        con.execute("create schema if not exists staging")
        con.execute("create or replace table staging.stg_service_desk__tickets as "
                    "select * from raw_service.tickets")


def _scores(wh):
    con = duckdb.connect(str(wh), read_only=True)
    scores = {(r[0], r[1]): r for r in latest_scorecard(con)}
    con.close()
    return scores


def test_simulated_sources_pass_then_a_defective_export_warns_and_blocks(
        tmp_path, monkeypatch):
    from orchestration.defs.ingest import ingest_assets
    from simulator.config import SimConfig
    from simulator.world import simulate

    sources, wh = tmp_path / "sources", tmp_path / "wh" / "warehouse.duckdb"
    wh.parent.mkdir()
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(sources))
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(wh))
    for name in ("CRMW_ERP_URL", "CRMW_ECOMMERCE_DIR", "CRMW_SERVICE_DESK_DIR"):
        monkeypatch.delenv(name, raising=False)
    simulate(SimConfig(customers=400, history_days=30, out_dir=sources, verbose=False))
    raw_suites = [s for s in load_suites() if s.schema.startswith("raw_")]
    graph = [*ingest_assets, *build_suite_checks(raw_suites), stg_tickets]
    resources = {"warehouse": WarehouseResource(database=str(wh))}

    clean = dg.materialize(graph, resources=resources, raise_on_error=False)
    evals = [e for e in clean.get_asset_check_evaluations()
             if e.check_name not in ("no_quarantined_lines", "no_empty_files")]
    assert clean.success
    assert len(evals) == sum(len(s.expectations) for s in raw_suites)
    failed = sorted(f"{e.asset_key.to_user_string()}:{e.check_name}"
                    for e in evals if not e.passed)
    assert not failed, failed
    before = _scores(wh)[("service_desk", "tickets")]

    # A new export file: 40 tickets with an unknown priority, one without a ticket id.
    existing = sorted((sources / "service_desk" / "tickets").glob("*.csv"))
    with existing[-1].open(newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    bad = [dict(rows[i % len(rows)], ticket_id=f"T-9{i:06d}", priority="P1") for i in range(40)]
    bad.append(dict(rows[0], ticket_id=""))
    with (existing[-1].parent / "tickets_2099-01-01.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(bad)

    dirty = dg.materialize(graph, resources=resources, raise_on_error=False,
                           selection=[TICKETS, DOWNSTREAM])
    evals = {e.check_name: e for e in dirty.get_asset_check_evaluations()
             if e.asset_key == TICKETS}
    assert not evals["ticket_id_not_null"].passed
    assert evals["ticket_id_not_null"].severity == dg.AssetCheckSeverity.ERROR
    assert evals["ticket_id_not_null"].metadata["unexpected_count"].value == 1
    assert not evals["priority_in_allowed_set"].passed
    assert evals["priority_in_allowed_set"].severity == dg.AssetCheckSeverity.WARN
    materialized = {e.asset_key for e in dirty.get_asset_materialization_events()}
    assert TICKETS in materialized and DOWNSTREAM not in materialized
    after = _scores(wh)[("service_desk", "tickets")]
    assert after[7] < before[7] and after[9] == "worsening"  # overall score and trend
