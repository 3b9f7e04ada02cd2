"""dbt build on simulated sources: every model, data test and unit test passes, and the
reconciliation raw = staged + rejected + duplicates + superseded holds per source table."""

from __future__ import annotations

from dbt_test_helpers import run_dbt

from contracts.sources import SOURCE_TABLES


def test_dbt_build_ran_models_tests_and_unit_tests(built_warehouse):
    results = built_warehouse.run_results["results"]
    failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass")]
    assert not failed, failed
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "test", "unit_test", "seed", "snapshot"} <= kinds
    unit_tests = [r["unique_id"] for r in results if r["unique_id"].startswith("unit_test.")]
    assert any("test_rfm_scores_and_segments" in u for u in unit_tests)
    assert any("test_survivorship_rules" in u for u in unit_tests)
    assert any("test_standardizes_emails_phones_and_local_time" in u for u in unit_tests)


def test_every_raw_row_is_accounted_for(built_warehouse):
    with built_warehouse.connect() as con:
        rows = con.execute("""
            select source_table, raw_rows, staged_rows, rejected_rows, duplicate_rows,
                   superseded_rows, balanced
            from staging.reconciliation order by source_table
        """).fetchall()
    assert {r[0] for r in rows} == {t.qualified_raw_name for t in SOURCE_TABLES}
    for table, raw, staged, rejected, dup, superseded, balanced in rows:
        print(f"{table}: raw {raw} = staged {staged} + rejected {rejected} + duplicates {dup}"
              f" + superseded {superseded}")
        assert raw > 0, table
        assert raw == staged + rejected + dup + superseded, table
        assert balanced
    by_table = {r[0]: r for r in rows}
    # the simulator's default defects show up where they belong
    assert by_table["raw_service.tickets"][5] > 0  # tickets re-exported on every change
    assert by_table["raw_ecommerce.events"][4] > 0  # lines written twice in an export
    assert by_table["raw_erp.sales_order_lines"][3] > 0  # negative quantity, unknown product


def test_rejected_rows_carry_a_reason_and_the_row_as_delivered(built_warehouse):
    with built_warehouse.connect() as con:
        reasons = dict(con.execute("""
            select _reject_reason, count(*) from staging.stg_erp__sales_order_lines_rejected
            group by 1""").fetchall())
        sample = con.execute("""
            select _raw_record::json ->> 'quantity', _source_object, _source_row_number
            from staging.stg_erp__sales_order_lines_rejected
            where _reject_reason = 'NEGATIVE_QUANTITY' limit 1""").fetchone()
    assert reasons.get("NEGATIVE_QUANTITY", 0) > 0
    assert reasons.get("UNKNOWN_PRODUCT", 0) > 0
    assert sample is not None and int(sample[0]) < 0 and sample[1]


def test_reconciliation_check_fails_when_a_row_goes_missing(built_warehouse, tmp_path):
    """The check is real: losing one staged row makes it fail, naming the table."""
    copy = built_warehouse.copy_to(tmp_path)
    import duckdb

    with duckdb.connect(str(copy)) as con:
        # stg_erp__members is a view of the staged rows of base_erp__members
        con.execute("delete from staging.base_erp__members where member_id = "
                    "(select min(member_id) from staging.stg_erp__members)")
    proc = run_dbt(["test", "--select", "stg_erp__members,test_name:reconciles_with_raw"],
                   copy, tmp_path / "target", check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "reconciles_with_raw" in proc.stdout and "FAIL" in proc.stdout
