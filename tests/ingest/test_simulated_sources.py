"""Extraction of the simulator's demo sources (a few hundred customers), end to end."""

from __future__ import annotations

import duckdb
import pytest

from contracts.sources import SOURCE_TABLES
from warehouse.extract import extract

simulator_world = pytest.importorskip("simulator.world", reason="simulator not available")
simulator_config = pytest.importorskip("simulator.config", reason="simulator not available")


@pytest.mark.slow
def test_simulated_sources_load_completely_and_once(env):
    cfg = simulator_config.SimConfig(customers=300, out_dir=env.sources_dir, history_days=60,
                                      verbose=False)
    simulator_world.simulate(cfg)
    first = {t.qualified_raw_name: extract(t) for t in SOURCE_TABLES}
    for name, result in first.items():
        assert result.rows_loaded + result.rows_quarantined == result.rows_read or (
            name.startswith("raw_erp")), name
    for name in ("raw_erp.members", "raw_erp.sales_orders", "raw_ecommerce.events",
                 "raw_service.tickets"):
        assert first[name].rows_loaded > 0, name
    again = [extract(t) for t in SOURCE_TABLES]
    assert [r.rows_loaded for r in again] == [0] * len(SOURCE_TABLES)
    con = duckdb.connect(str(env.warehouse_path), read_only=True)
    try:
        for t in SOURCE_TABLES:
            n = con.execute(f"SELECT count(*) FROM {t.qualified_raw_name}").fetchone()[0]
            assert n == first[t.qualified_raw_name].table_rows, t.name
    finally:
        con.close()
