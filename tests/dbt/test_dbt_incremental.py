"""An incremental build of the large facts equals a full refresh.

On a copy of the built warehouse, the latest raw events and order lines are held back, the
facts are fully rebuilt without them, the held rows are then delivered as a later extraction
and the facts built incrementally; a full refresh afterwards must give identical tables."""

from __future__ import annotations

import duckdb
import pytest
from dbt_test_helpers import run_dbt

FACTS = ("marts.fct_events", "marts.fct_order_lines")
HELD = {  # raw table -> its timestamp column (text as delivered, ISO ordered)
    "raw_ecommerce.events": "event_ts",
    "raw_erp.sales_order_lines": "updated_at",
}
SELECT = ["--select", "+fct_events", "+fct_order_lines"]


def _rows(con, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def _differences(con, a: str, b: str) -> int:
    return con.execute(f"""select (select count(*) from (select * from {a} except all
                                                        select * from {b}))
                                + (select count(*) from (select * from {b} except all
                                                        select * from {a}))""").fetchone()[0]


@pytest.mark.slow
def test_incremental_build_equals_full_refresh(built_warehouse, tmp_path):
    copy = built_warehouse.copy_to(tmp_path)
    target = tmp_path / "target"
    with duckdb.connect(str(copy)) as con:
        for table, ts in HELD.items():
            hold = "main.hold_" + table.split(".")[1]
            con.execute(f"""create table {hold} as select * from {table}
                            where {ts} >= (select max({ts})::timestamp - interval 60 day
                                           from {table})::varchar""")
            assert _rows(con, hold) > 0
            con.execute(f"delete from {table} where ({ts}) in (select {ts} from {hold})")
    run_dbt(["run", "--full-refresh", *SELECT], copy, target)
    with duckdb.connect(str(copy)) as con:
        before = {f: _rows(con, f) for f in FACTS}
        for table in HELD:
            hold = "main.hold_" + table.split(".")[1]
            con.execute(f"""insert into {table} by name
                            select * replace (_extracted_at + interval 1 day as _extracted_at)
                            from {hold}""")
    run_dbt(["run", *SELECT], copy, target)
    with duckdb.connect(str(copy)) as con:
        after = {f: _rows(con, f) for f in FACTS}
        for fact in FACTS:
            con.execute(f"create table main.inc_{fact.split('.')[1]} as select * from {fact}")
    run_dbt(["run", "--full-refresh", "--select", "fct_events", "fct_order_lines"], copy, target)
    with duckdb.connect(str(copy)) as con:
        for fact in FACTS:
            full = _rows(con, fact)
            print(f"{fact}: {before[fact]} rows before, {after[fact]} after the incremental "
                  f"run, {full} in the full refresh")
            assert after[fact] > before[fact]
            assert after[fact] == full
            assert _differences(con, f"main.inc_{fact.split('.')[1]}", fact) == 0


@pytest.mark.slow
def test_late_erp_entry_of_a_web_order_leaves_no_orphan_lines(built_warehouse, tmp_path):
    """A web order first seen only in the web shop (order W<id>, lines from its items) is
    entered in the ERP later (order E<id>, new line keys). After the incremental build the old
    W<id> lines are gone: the fact equals a full refresh and every line has its order."""
    copy = built_warehouse.copy_to(tmp_path)
    target = tmp_path / "target"
    late = """select order_id from raw_erp.sales_orders where web_order_ref is not null
              order by order_ts desc limit 25"""
    with duckdb.connect(str(copy)) as con:
        con.execute(f"create table main.hold_orders as select * from raw_erp.sales_orders "
                    f"where order_id in ({late})")
        con.execute("create table main.hold_lines as select * from raw_erp.sales_order_lines "
                    "where order_id in (select order_id from main.hold_orders)")
        assert _rows(con, "main.hold_orders") == 25 and _rows(con, "main.hold_lines") > 0
        con.execute("delete from raw_erp.sales_order_lines "
                    "where order_id in (select order_id from main.hold_orders)")
        con.execute("delete from raw_erp.sales_orders "
                    "where order_id in (select order_id from main.hold_orders)")
    selection = ["--select", "+fct_order_lines"]
    run_dbt(["run", "--full-refresh", *selection], copy, target)
    with duckdb.connect(str(copy)) as con:
        web_keys = con.execute("""select count(*) from marts.fct_order_lines
            where order_key in (select 'W' || web_order_ref from main.hold_orders)""").fetchone()[0]
        assert web_keys > 0, "the held ERP orders' web orders should be web-only at first"
        for held, table in (("main.hold_orders", "raw_erp.sales_orders"),
                            ("main.hold_lines", "raw_erp.sales_order_lines")):
            con.execute(f"""insert into {table} by name
                            select * replace (_extracted_at + interval 1 day as _extracted_at)
                            from {held}""")
    run_dbt(["run", *selection], copy, target)
    with duckdb.connect(str(copy)) as con:
        orphans = con.execute("""select count(*) from marts.fct_order_lines as l
            where not exists (select 1 from marts.fct_orders as o
                              where o.order_key = l.order_key)""").fetchone()[0]
        assert orphans == 0, f"{orphans} order lines reference no order after the late ERP entry"
        con.execute("create table main.inc_lines as select * from marts.fct_order_lines")
    run_dbt(["run", "--full-refresh", "--select", "fct_order_lines"], copy, target)
    with duckdb.connect(str(copy)) as con:
        assert _differences(con, "main.inc_lines", "marts.fct_order_lines") == 0


BASES = ("staging.base_ecommerce__events", "staging.base_ecommerce__sessions")
BASE_SELECT = ["--select", "base_erp__products", "base_ecommerce__events",
               "base_ecommerce__sessions", "stg_erp__products"]


@pytest.mark.slow
def test_incremental_base_models_equal_a_full_refresh(built_warehouse, tmp_path):
    """The incremental click-stream base models reclassify only what a new delivery touches,
    and still end as a full build would, also where the delivery changes earlier rows: an
    exact copy of an old event (duplicate), a changed old event (the old row becomes
    DUPLICATE_KEY), a keyless event, and a product arriving late (its UNKNOWN_PRODUCT events
    become valid)."""
    copy = built_warehouse.copy_to(tmp_path)
    target = tmp_path / "target"
    with duckdb.connect(str(copy)) as con:
        for table, ts in (("raw_ecommerce.events", "event_ts"),
                          ("raw_ecommerce.sessions", "started_at")):
            hold = "main.hold_" + table.split(".")[1]
            con.execute(f"""create table {hold} as select * from {table}
                            where {ts} >= (select max({ts})::timestamp - interval 30 day
                                           from {table})::varchar""")
            con.execute(f"delete from {table} where ({ts}) in (select {ts} from {hold})")
        late_product = con.execute("""select product_id from raw_ecommerce.events
            where product_id is not null group by 1 order by count(*) desc limit 1""").fetchone()[0]
        con.execute("create table main.hold_products as select * from raw_erp.products "
                    "where product_id = ?", [late_product])
        con.execute("delete from raw_erp.products where product_id = ?", [late_product])
    run_dbt(["run", "--full-refresh", *BASE_SELECT], copy, target)
    with duckdb.connect(str(copy)) as con:
        assert con.execute("""select count(*) from staging.base_ecommerce__events
            where _reject_reason = 'UNKNOWN_PRODUCT' and product_id = ?""",
                           [late_product]).fetchone()[0] > 0
        old = con.execute("""select event_id from staging.base_ecommerce__events
            where _disposition = 'staged' and product_id is null order by event_id limit 2
            """).fetchall()
        later = "(select max(_extracted_at) + interval 1 day from raw_ecommerce.events)"
        for held, table in (("main.hold_events", "raw_ecommerce.events"),
                            ("main.hold_sessions", "raw_ecommerce.sessions"),
                            ("main.hold_products", "raw_erp.products")):
            con.execute(f"""insert into {table} by name
                            select * replace ({later} as _extracted_at) from {held}""")
        con.execute(f"""insert into raw_ecommerce.events by name
            select * replace ({later} as _extracted_at, 'x-' || _batch_id as _batch_id)
            from raw_ecommerce.events where event_id = ?""", [old[0][0]])
        con.execute(f"""insert into raw_ecommerce.events by name
            select * replace ({later} as _extracted_at, case when event_type = 'page_view'
                              then 'checkout' else 'page_view' end as event_type)
            from raw_ecommerce.events where event_id = ?""", [old[1][0]])
        con.execute(f"""insert into raw_ecommerce.events by name
            select * replace ({later} as _extracted_at, ' ' as event_id)
            from raw_ecommerce.events where event_id = ?""", [old[0][0]])
    run_dbt(["run", *BASE_SELECT], copy, target)
    with duckdb.connect(str(copy)) as con:
        for base in BASES:
            con.execute(f"create table main.inc_{base.split('.')[1]} as select * from {base}")
        dispositions = dict(con.execute("""select event_id, list(_disposition order by
            _extracted_at) from main.inc_base_ecommerce__events where event_id in (?, ?)
            group by 1""", [old[0][0], old[1][0]]).fetchall())
        assert dispositions[old[0][0]] == ["staged", "duplicate"]
        assert dispositions[old[1][0]] == ["rejected", "staged"]
    run_dbt(["run", "--full-refresh", *BASE_SELECT], copy, target)
    with duckdb.connect(str(copy)) as con:
        assert con.execute("""select count(*) from staging.base_ecommerce__events
            where _reject_reason = 'UNKNOWN_PRODUCT' and product_id = ?""",
                           [late_product]).fetchone()[0] == 0
        for base in BASES:
            assert _differences(con, f"main.inc_{base.split('.')[1]}", base) == 0, base
