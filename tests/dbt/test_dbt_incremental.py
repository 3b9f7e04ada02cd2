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
