"""The whole product, small, the way a user runs it: `crm-warehouse simulate` then
`crm-warehouse run` (real Dagster home, real DuckDB, real dbt, GX, models, publish), a second
run with no new data, and an incremental run after `simulate --days 3`.

Checks the foundation's promises: every raw table holds exactly the rows the simulator wrote
(re-delivered files loaded once), a rerun loads nothing, new days load only the new rows, and
the run is visible in the Dagster instance with every asset materialized.
"""

from __future__ import annotations

import collections
import json
import sqlite3
from pathlib import Path

import duckdb
import pytest
from cli_runner import run_cli

from contracts.sources import SOURCE_TABLES

pytestmark = pytest.mark.slow

# The world (simulated sources + the first `crm-warehouse run`) is built once per session in
# conftest.py; test_crash_recovery.py runs on it too.




def _raw_counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {t.qualified_raw_name: con.execute(
            f"select count(*) from {t.qualified_raw_name}").fetchone()[0] for t in SOURCE_TABLES}
    finally:
        con.close()


def _expected_export_rows(manifest: dict, window: int | None = None) -> collections.Counter:
    """Rows the simulator wrote per export entity, counting each re-delivered file once."""
    rows: collections.Counter = collections.Counter()
    for f in manifest["files"]:
        if f["redelivery_of"] is None and (window is None or f["window"] == window):
            rows[f["entity"]] += f["rows"]
    return rows


def _erp_rows_after(erp_file: Path, table: str, cursor) -> int:
    con = sqlite3.connect(erp_file)
    try:
        if cursor is None:
            return con.execute(f"select count(*) from {table}").fetchone()[0]
        return con.execute(f"select count(*) from {table} where updated_at > ?",
                           (str(cursor),)).fetchone()[0]
    finally:
        con.close()


def _max_updated_at(warehouse: Path) -> dict[str, str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {t.name: con.execute(f"select max(updated_at) from {t.qualified_raw_name}")
                .fetchone()[0] for t in SOURCE_TABLES if t.system == "erp"}
    finally:
        con.close()


def test_every_raw_table_holds_exactly_what_the_sources_delivered(world):
    manifest = json.loads((world["sources"] / "_truth" / "manifest.json").read_text())
    exports = _expected_export_rows(manifest)
    counts = _raw_counts(world["warehouse"])
    erp_file = world["sources"] / "erp" / "erp.sqlite"
    for table in SOURCE_TABLES:
        expected = (_erp_rows_after(erp_file, table.name, None) if table.system == "erp"
                    else exports[table.name])
        assert expected > 0, f"the simulator wrote no {table.name}"
        assert counts[table.qualified_raw_name] == expected, table.qualified_raw_name


def test_run_prints_a_summary_and_builds_every_layer(world):
    out = world["first_run"].stdout
    assert "succeeded" in out
    assert f"Warehouse (build database): {world['warehouse']}" in out
    assert "make ui" in out
    # progress: one line per finished step, up to the last one (read after the run ends)
    for step in ("raw_erp__members", "dbt_staging_and_marts", "ml__churn_scores",
                 "publish__html_report"):
        assert f"] ok   {step}\n" in out, f"no progress line for step {step}"
    con = duckdb.connect(str(world["warehouse"]), read_only=True)
    try:
        for relation in ("staging.reconciliation", "intermediate.int_customer_identity_map",
                         "marts.dim_customer", "marts.fct_orders", "marts.customer_rfm",
                         "marts.kpi_daily", "marts.customer_360", "ml.churn_scores",
                         "ml.clv_scores", "ml.customer_clusters", "ml.model_runs",
                         "quality.check_results"):
            n = con.execute(f"select count(*) from {relation}").fetchone()[0]
            assert n > 0, f"{relation} is empty after make demo's run"
        scored = con.execute(
            "select count(churn_probability) from marts.customer_360").fetchone()[0]
        assert scored > 0, "customer_360 does not carry the churn scores"
    finally:
        con.close()
    published = world["warehouse"].parent / "marts.duckdb"
    assert published.exists(), "nothing was published for BI"


def test_the_run_is_recorded_in_the_dagster_home(world, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", world["env"]["DAGSTER_HOME"])
    import dagster as dg

    from orchestration.definitions import defs

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="build_everything"))
        assert runs and runs[-1].status == dg.DagsterRunStatus.SUCCESS
        keys = defs.resolve_asset_graph().get_all_asset_keys()
        never = [k.to_user_string() for k in keys
                 if instance.get_latest_materialization_event(k) is None]
        assert not never, f"assets never materialized by the demo run: {never}"


def test_second_run_without_new_data_loads_nothing(world):
    before = _raw_counts(world["warehouse"])
    run_cli(world["env"], "run", "--quiet")
    assert _raw_counts(world["warehouse"]) == before


def test_new_days_load_only_the_new_rows(world):
    before = _raw_counts(world["warehouse"])
    cursors = _max_updated_at(world["warehouse"])
    run_cli(world["env"], "simulate", "--days", "3", "--quiet")
    manifest = json.loads((world["sources"] / "_truth" / "manifest.json").read_text())
    new_window = len(manifest["windows"]) - 1
    new_exports = _expected_export_rows(manifest, window=new_window)
    erp_file = world["sources"] / "erp" / "erp.sqlite"
    expected_erp = {t.name: _erp_rows_after(erp_file, t.name, cursors[t.name])
                    for t in SOURCE_TABLES if t.system == "erp"}
    run_cli(world["env"], "run", "--quiet")
    after = _raw_counts(world["warehouse"])
    added = {name: after[name] - before[name] for name in after}
    for table in SOURCE_TABLES:
        expected = expected_erp[table.name] if table.system == "erp" else new_exports[table.name]
        assert added[table.qualified_raw_name] == expected, table.qualified_raw_name
    assert sum(added.values()) > 0, "three simulated days produced no new rows at all"
