"""Suites on a real DuckDB raw layer: clean data passes, defects fail with the right severity."""

import duckdb
from quality_fixtures import outcome, run_suites

from expectations.runner import validate_suite


def _sql(path, *statements):
    con = duckdb.connect(str(path))
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


def test_clean_data_passes_every_raw_suite(warehouse, suites):
    raw = [s for name, s in suites.items() if name.startswith("raw_")]
    assert len(raw) == 14
    runs = run_suites(warehouse, raw, "clean")
    failed = [(r.suite.name, o.spec.id, o.observed_value, o.details)
              for r in runs for o in r.outcomes if not o.success]
    assert not failed
    con = duckdb.connect(str(warehouse), read_only=True)
    n, ok = con.execute("select count(*), count(*) filter (where success) "
                        "from quality.check_results where run_id = 'clean'").fetchone()
    con.close()
    assert n == sum(len(s.expectations) for s in raw) and ok == n


def test_error_and_warn_defects_fail_with_their_severity(warehouse, suites):
    _sql(warehouse,
         "update raw_erp.members set member_id = null where member_id in ('3', '4')",
         # 30% malformed e-mails: beyond the warn threshold (mostly 0.9)
         "update raw_erp.members set email = 'no-at-sign' where member_id::int % 10 < 3")
    (run,) = run_suites(warehouse, [suites["raw_erp.members"]], "defects")
    pk = outcome(run, "member_id_not_null")
    assert not pk.success and pk.spec.severity == "error"
    assert pk.unexpected_count == 2 and pk.element_count == 200
    keys = {k["_source_row_number"] for k in pk.failing_record_keys}
    assert keys == {3, 4}  # rows located by record key
    email = outcome(run, "email_format")
    assert not email.success and email.spec.severity == "warn"
    assert 25 <= email.unexpected_percent <= 35
    assert not run.success  # an error expectation failed
    assert outcome(run, "phone_format").success


def test_warn_defect_below_threshold_passes(warehouse, suites):
    _sql(warehouse, "update raw_erp.members set email = 'bad' where member_id in ('1', '2')")
    (run,) = run_suites(warehouse, [suites["raw_erp.members"]], "few")
    email = outcome(run, "email_format")
    assert email.success and email.unexpected_count == 2


def test_chunked_counts_equal_whole_table_counts(warehouse, suites):
    _sql(warehouse, "update raw_erp.sales_order_lines set quantity = '-1' "
                    "where order_line_id::int % 7 = 0",
         "insert into raw_erp.sales_order_lines select * from raw_erp.sales_order_lines limit 5")
    suite = suites["raw_erp.sales_order_lines"]
    con = duckdb.connect(str(warehouse))
    try:
        common = dict(run_id="c", gx_dir=warehouse.parent / "gx", docs_dir=warehouse.parent / "d")
        whole = validate_suite(con, suite, chunk_rows=1_000_000, **common)
        chunked = validate_suite(con, suite, chunk_rows=150, **common)
    finally:
        con.close()
    assert whole.chunks == 1 and chunked.chunks == 3
    for a, b in zip(whole.outcomes, chunked.outcomes, strict=True):
        assert (a.spec.id, a.success, a.unexpected_count, a.element_count) == \
               (b.spec.id, b.success, b.unexpected_count, b.element_count)
    con = duckdb.connect(str(warehouse), read_only=True)
    negative = con.execute("select count(*) from raw_erp.sales_order_lines "
                           "where quantity = '-1'").fetchone()[0]
    con.close()
    assert negative >= 400 // 7
    assert outcome(chunked, "quantity_in_range").unexpected_count == negative
    assert outcome(chunked, "version_key_unique").unexpected_count == 10  # 5 pairs


def test_incremental_suite_validates_only_new_batches(warehouse, suites):
    suite = suites["raw_ecommerce.events"]
    (first,) = run_suites(warehouse, [suite], "r1")
    assert first.rows_validated == 800 and first.new_batches == ["batch-1"]
    (again,) = run_suites(warehouse, [suite], "r2")
    assert again.rows_validated == 0 and all(o.success for o in again.outcomes)
    _sql(warehouse, "insert into raw_ecommerce.events select * replace "
                    "('batch-2' as _batch_id, 'bogus' as event_type) from raw_ecommerce.events "
                    "limit 50")
    (third,) = run_suites(warehouse, [suite], "r3")
    assert third.rows_validated == 50
    bad = outcome(third, "event_type_in_allowed_set")
    assert not bad.success and bad.unexpected_count == 50


def test_missing_table_and_column_fail_clearly(warehouse, suites):
    _sql(warehouse, "alter table raw_erp.stores drop column store_name",
         "drop table raw_service.surveys")
    stores, surveys = run_suites(
        warehouse, [suites["raw_erp.stores"], suites["raw_service.surveys"]], "broken")
    assert not outcome(stores, "required_columns_present").success
    assert not outcome(stores, "store_name_not_null").success
    assert all(not o.success and "does not exist" in o.details for o in surveys.outcomes)


def test_referential_integrity_and_volume(warehouse, suites):
    suite = suites["raw_erp.sales_order_lines"]
    run_suites(warehouse, [suite], "base")
    _sql(warehouse, "update raw_erp.sales_order_lines set order_id = '999999' "
                    "where order_line_id::int <= 20",
         "delete from raw_erp.sales_order_lines where order_line_id::int > 200")
    (run,) = run_suites(warehouse, [suite], "after")
    fk = outcome(run, "order_id_references_sales_orders")
    assert not fk.success and fk.unexpected_count == 20 and fk.spec.severity == "warn"
    vol = outcome(run, "volume_within_band")
    assert not vol.success and "previous successful run 400" in vol.observed_value


def test_narrow_read_of_a_large_scope_gives_the_same_outcomes(warehouse, suites, monkeypatch):
    """From NARROW_FROM_ROWS rows GX reads only the checked columns: same results, same keys."""
    from expectations import runner

    _sql(warehouse,
         "update raw_erp.members set email = 'no-at-sign' where member_id::int % 10 < 3",
         "update raw_erp.members set member_id = null where member_id = '5'",
         "alter table raw_erp.members drop column member_no")  # a required column goes missing
    suite = suites["raw_erp.members"]
    con = duckdb.connect(str(warehouse))
    try:
        common = dict(run_id="n", gx_dir=warehouse.parent / "gx", docs_dir=warehouse.parent / "d")
        wide = validate_suite(con, suite, **common)
        monkeypatch.setattr(runner, "NARROW_FROM_ROWS", 1)
        taken, real = [], runner._narrow
        monkeypatch.setattr(runner, "_narrow", lambda *a: taken.append(real(*a)) or taken[-1])
        narrow = validate_suite(con, suite, **common)
        narrow_chunked = validate_suite(con, suite, chunk_rows=70, **common)
    finally:
        con.close()
    assert narrow_chunked.chunks == 3 and taken == [True, True]

    def summary(run):
        return [(o.spec.id, o.success, o.unexpected_count, o.element_count,
                 sorted(map(str, o.failing_record_keys)), bool(o.details))
                for o in run.outcomes]

    assert summary(wide) == summary(narrow) == summary(narrow_chunked)
    assert not outcome(narrow, "required_columns_present").success
    assert not outcome(narrow, "member_no_not_null").success  # the missing column is named
    assert "member_no" in outcome(narrow, "member_no_not_null").details
    pk = outcome(narrow_chunked, "member_id_not_null")
    assert pk.unexpected_count == 1 and pk.failing_record_keys[0]["_source_row_number"] == 5
    assert outcome(narrow, "email_format").unexpected_count == 60


def test_no_chunk_stays_in_memory_after_a_suite_run(warehouse, suites):
    """The GX project is cached per process; the frames it validated must not be."""
    import gc

    import pandas as pd

    def frames() -> dict[int, int]:
        gc.collect()
        return {id(o): len(o) for o in gc.get_objects() if isinstance(o, pd.DataFrame)}

    # frames other tests of the session hold (fixtures, caches) are not this run's
    before = frames()
    run_suites(warehouse, [suites["raw_erp.members"], suites["raw_erp.sales_orders"]], "mem")
    live = [rows for key, rows in frames().items() if key not in before and rows]
    assert not live, f"DataFrames of {live} rows are still referenced after the suite run"
