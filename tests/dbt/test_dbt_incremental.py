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
