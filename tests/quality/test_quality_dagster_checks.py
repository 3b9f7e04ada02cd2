"""Suites as Dagster asset checks: error blocks downstream, warn does not, metadata is useful."""

import dagster as dg
import duckdb

from orchestration.defs.quality.checks import build_suite_check
from orchestration.defs.resources import WarehouseResource

RAW = dg.AssetKey(["raw_erp", "members"])
DOWNSTREAM = dg.AssetKey(["staging", "stg_erp__members"])


def _graph():
    @dg.asset(key=RAW, group_name="ingest")
    def raw_members():
        """Stands in for the extractor: the raw table is already in the warehouse."""
        return dg.MaterializeResult()

    @dg.asset(key=DOWNSTREAM, deps=[RAW], group_name="staging")
    def stg_members(warehouse: WarehouseResource):
        with warehouse.get_connection() as con:
            con.execute("create schema if not exists staging")
            con.execute("create or replace table staging.stg_erp__members as "
                        "select * from raw_erp.members")

    return [raw_members, stg_members]


def _run(path, suite):
    result = dg.materialize(
        [*_graph(), build_suite_check(suite)],
        resources={"warehouse": WarehouseResource(database=str(path))},
        raise_on_error=False,
    )
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return result, materialized, evaluations


def _defect(path, sql):
    con = duckdb.connect(str(path))
    con.execute(sql)
    con.close()


def test_clean_data_materializes_downstream(warehouse, suites):
    suite = suites["raw_erp.members"]
    result, materialized, evaluations = _run(warehouse, suite)
    assert materialized == {RAW, DOWNSTREAM}
    assert set(evaluations) == {e.id for e in suite.expectations}
    assert all(e.passed for e in evaluations.values())
    con = duckdb.connect(str(warehouse), read_only=True)
    n = con.execute("select count(*) from quality.check_results where run_id = ? and success",
                    [result.run_id]).fetchone()[0]
    con.close()
    assert n == len(suite.expectations)


def test_error_failure_blocks_downstream(warehouse, suites):
    _defect(warehouse, "update raw_erp.members set member_id = null where member_id = '5'")
    result, materialized, evaluations = _run(warehouse, suites["raw_erp.members"])
    failed = evaluations["member_id_not_null"]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    meta = failed.metadata
    assert meta["unexpected_count"].value == 1
    # no person id in Dagster's event log (erasure cannot rewrite it): file and row locate it
    assert meta["failing_record_keys_sample"].value == [
        {"_source_object": "members/members_1.dat", "_source_row_number": 5}]
    assert "expect_column_values_to_not_be_null" in meta["expectation"].value
    assert meta["report"].value.endswith(".html")
    assert RAW in materialized and DOWNSTREAM not in materialized


def test_warn_failure_does_not_block(warehouse, suites):
    _defect(warehouse, "update raw_erp.members set phone = 'call me' where member_id::int % 4 = 0")
    result, materialized, evaluations = _run(warehouse, suites["raw_erp.members"])
    warned = evaluations["phone_format"]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.metadata["unexpected_percent"].value == 25.0
    assert result.success and DOWNSTREAM in materialized


def test_scorecard_and_rejected_rows_assets_materialize(warehouse, suites):
    from orchestration.defs.quality.assets import build_rejected_rows_asset, scorecard

    _run(warehouse, suites["raw_erp.members"])  # some results to score
    result = dg.materialize(
        [build_rejected_rows_asset([]), scorecard],
        resources={"warehouse": WarehouseResource(database=str(warehouse))})
    assert result.success
    meta = {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert meta["quality/rejected_rows"]["dagster/row_count"].value == 0
    assert meta["quality/scorecard"]["tables_scored"].value == 1
    assert "| erp | members | 100.0 |" in meta["quality/scorecard"]["latest"].value


def test_area_attaches_a_suite_to_every_raw_asset():
    from orchestration.defs import quality

    checked = {k.asset_key for c in quality.defs.asset_checks for k in c.check_keys}
    raw = {dg.AssetKey(s.asset_key_path) for s in quality._suites if s.schema.startswith("raw_")}
    assert len(raw) == 14 and raw <= checked
