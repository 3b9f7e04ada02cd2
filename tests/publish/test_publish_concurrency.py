"""Publishing through Dagster while a second process reads marts.duckdb in a loop.

A toy build (three assets, each rebuilding one BI-facing table with the run's build number)
and the real publish asset run again and again; meanwhile bi_reader.py, in its own process,
opens the published file read-only as fast as it can. No read may fail and every read must
see one complete build. A build whose blocking check fails must not be published.
"""


import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.publish.assets import PUBLICATION_KEY, build_publish_asset
from orchestration.defs.resources import warehouse_resource
from warehouse.config import settings
from warehouse.publish import publication_paths, read_manifest

TOY_TABLES = (("marts", "toy_orders"), ("ml", "toy_scores"), ("quality", "toy_scorecard"))


def _toy_asset(schema: str, table: str) -> dg.AssetsDefinition:
    @dg.asset(key=[schema, table], group_name=schema, pool="duckdb_warehouse")
    def build(context: dg.AssetExecutionContext) -> None:
        build_no = int(context.run.tags["build_no"])
        con = duckdb.connect(str(settings().warehouse_path))
        try:
            con.execute(f"create schema if not exists {schema}")
            # Row count depends on the build, so a mix of builds cannot look consistent.
            con.execute(f"create or replace table {schema}.{table} as select {build_no} as "
                        f"build_no, i from range({200 + 37 * build_no}) t(i)")
        finally:
            con.close()

    return build


@dg.asset_check(asset=dg.AssetKey(["marts", "toy_orders"]), blocking=True)
def toy_orders_valid(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    broken = context.run.tags.get("break") == "1"
    return dg.AssetCheckResult(passed=not broken, severity=dg.AssetCheckSeverity.ERROR)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "wh" / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "wh").mkdir()
    return tmp_path


def _assets():
    toys = [_toy_asset(s, t) for s, t in TOY_TABLES]
    publish = build_publish_asset([dg.AssetKey([s, t]) for s, t in TOY_TABLES])
    return [*toys, publish]


def _build(assets, instance, build_no: int, broken: bool = False):
    return dg.materialize([*assets, toy_orders_valid], instance=instance,
                          resources={"warehouse": warehouse_resource()},
                          tags={"build_no": str(build_no), "break": "1" if broken else "0"},
                          raise_on_error=False)


def test_reader_never_sees_a_half_published_state(env):
    assets = _assets()
    paths = publication_paths()
    stop = env / "stop"
    instance = dg.DagsterInstance.ephemeral()
    assert _build(assets, instance, 1).success
    reader = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("bi_reader.py")), str(paths.database),
         str(stop), "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for build_no in range(2, 9):
            result = _build(assets, instance, build_no)
            assert result.success
        time.sleep(1.0)  # let the reader see the last publication too
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=120)
    summary = json.loads(out)
    print("reader summary:", {k: summary[k] for k in ("reads", "error_count", "builds")})
    assert summary["error_count"] == 0, summary["errors"]
    assert summary["reads"] >= 20, summary  # the reader really ran throughout
    assert len(summary["builds"]) >= 3, summary  # ... and saw several publications
    assert max(summary["builds"]) == 8
    # The Parquet copy is the same last build, complete.
    con = duckdb.connect()
    for schema, table in TOY_TABLES:
        parquet = paths.parquet_current / schema / f"{table}.parquet"
        n, build = con.execute(f"select count(*), min(build_no) from '{parquet}'").fetchone()
        assert (n, build) == (200 + 37 * 8, 8)
    # Older Parquet versions are pruned to the current and the previous one.
    assert len([p for p in (paths.parquet_root / "versions").iterdir()]) == 2


def test_failed_blocking_check_keeps_last_good_publication(env):
    assets = _assets()
    instance = dg.DagsterInstance.ephemeral()
    paths = publication_paths()
    assert _build(assets, instance, 1).success
    good = read_manifest(paths.database)
    good_bytes = paths.database.read_bytes()
    good_parquet = paths.parquet_current.resolve()

    result = _build(assets, instance, 2, broken=True)
    assert not result.success or not any(
        e.asset_key == PUBLICATION_KEY for e in result.get_asset_materialization_events()
        if e.asset_key is not None
    )
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert PUBLICATION_KEY not in materialized
    assert read_manifest(paths.database) == good
    assert paths.database.read_bytes() == good_bytes
    assert paths.parquet_current.resolve() == good_parquet

    # The next good build is published again.
    assert _build(assets, instance, 3).success
    con = duckdb.connect(str(paths.database), read_only=True)
    assert con.execute("select min(build_no) from marts.marts.toy_orders").fetchone()[0] == 3
    con.close()
