"""One rule per value, everywhere (issue 16).

* Amounts: every money column of every source is parsed by one macro (parse_amount) in the
  decimal convention declared for its source; "12,50" under '.' is UNPARSEABLE_AMOUNT, never
  1250.
* Dates: one plausibility rule (macro implausible_ts: not before var earliest_valid_date, not
  more than a day after extraction) on every event timestamp of every source, reason
  IMPOSSIBLE_DATE; birth dates have their own shared rule.
* Orphan references: an ERP order whose member is not staged stays, flagged UNKNOWN_MEMBER,
  and gets its customer when the member arrives in a later batch.

The rules themselves are dbt unit tests in models/staging/_staging__models.yml (run by the
session's dbt build); the end-to-end test delivers bad values into a copy of the built
warehouse and follows them to the marts.
"""

from __future__ import annotations

import re

import duckdb
import pytest
from dbt_test_helpers import run_dbt

from contracts.sources import SOURCE_TABLES
from warehouse.config import DBT_PROJECT_DIR

STAGING = DBT_PROJECT_DIR / "models" / "staging"
SYSTEM_DIRS = {"erp": "erp", "ecommerce": "ecommerce", "service_desk": "service_desk"}
VALUE_RULE_UNIT_TESTS = (
    "test_amounts_are_parsed_by_the_declared_separator_or_rejected",
    "test_amounts_under_a_declared_comma_decimal_separator",
    "test_erp_orders_amounts_dates_and_unknown_members",
    "test_service_desk_dates_follow_the_rule_of_every_source",
    "test_birth_dates_follow_one_rule",
)
# timestamps outside the event-time rule, and why: a store may have opened long before the
# warehouse's earliest business date (it is descriptive, and optional)
DATE_RULE_EXEMPT = {("erp", "stores", "opened_at")}
STAGED_NAME = {("erp", "sales_orders", "order_ts"): "ordered_at"}


def _base_sql(table) -> str:
    return (STAGING / SYSTEM_DIRS[table.system] / f"base_{table.system}__{table.name}.sql"
            ).read_text()


def test_value_rule_unit_tests_ran_and_passed(built_warehouse):
    results = {r["unique_id"].rsplit(".", 1)[-1]: r["status"]
               for r in built_warehouse.run_results["results"]
               if r["unique_id"].startswith("unit_test.")}
    assert {name: results.get(name) for name in VALUE_RULE_UNIT_TESTS} == dict.fromkeys(
        VALUE_RULE_UNIT_TESTS, "pass")


def test_every_source_uses_the_one_amount_and_date_rule():
    """Each money column of the contract is parsed by parse_amount with its source system,
    each event timestamp is checked by implausible_ts, in the base model of its table."""
    missing = []
    for table in SOURCE_TABLES:
        sql = _base_sql(table)
        for column in table.columns:
            if column.type == "DECIMAL":
                call = f"parse_amount('src.{column.name}', '{table.system}')"
                if call not in sql:
                    missing.append(f"{table.qualified_raw_name}.{column.name}: {call}")
            elif column.type == "TIMESTAMP":
                if (table.system, table.name, column.name) in DATE_RULE_EXEMPT:
                    continue
                staged = STAGED_NAME.get((table.system, table.name, column.name), column.name)
                call = f"implausible_ts('{staged}')"
                if call not in sql:
                    missing.append(f"{table.qualified_raw_name}.{column.name}: {call}")
        # no private amount or date rule beside the shared macros
        assert not re.search(r"as decimal|earliest_valid|interval 1 day|current_date", sql,
                             re.IGNORECASE), table.qualified_raw_name
    assert not missing, missing


def _staged(con, stg: str, key: str, where: str = "true") -> tuple:
    """(key, raw row filter) of a staged record: its raw version, found by its lineage."""
    key_value, obj, row, batch = con.execute(
        f"""select {key}, _source_object, _source_row_number, _batch_id from {stg}
            where {where} order by {key} limit 1""").fetchone()
    return key_value, (f"_source_object = '{obj}' and _source_row_number = {row} "
                       f"and _batch_id = '{batch}'")


@pytest.mark.slow
def test_bad_values_are_rejected_and_an_unknown_member_stays_visible(built_warehouse,
                                                                     tmp_path):
    copy = built_warehouse.copy_to(tmp_path)
    target = tmp_path / "target"
    select = ["--select", "+fct_orders", "+fct_tickets", "reconciliation"]
    with duckdb.connect(str(copy)) as con:
        _, ticket = _staged(con, "staging.stg_service_desk__tickets", "ticket_id")
        for new_id, created in (("H3-1900", "1900-01-01 00:00:00"),
                                ("H3-9999", "9999-12-31 00:00:00")):
            con.execute(f"""insert into raw_service.tickets by name
                select * replace ('{new_id}' as ticket_id, '{created}' as created_at,
                                  'open' as status, null as first_response_at,
                                  null as resolved_at)
                from raw_service.tickets where {ticket}""")
        _, web = _staged(con, "staging.stg_ecommerce__orders", "order_id")
        con.execute(f"""insert into raw_ecommerce.orders by name
            select * replace ('H3-COMMA' as order_id, '12,50' as total_amount)
            from raw_ecommerce.orders where {web}""")
        # a store order of a member, without returns, copied for a member that does not exist
        order, order_row = _staged(
            con, "staging.stg_erp__sales_orders", "order_id",
            "member_id is not null and channel = 'store' and order_id not in "
            "(select order_id from staging.stg_erp__returns) and order_id in "
            "(select order_id from staging.stg_erp__sales_order_lines)")
        new_order, new_member = con.execute("""select max(order_id::bigint) + 1000000,
            (select max(member_id::bigint) + 1000000 from raw_erp.members)
            from raw_erp.sales_orders""").fetchone()
        con.execute(f"""insert into raw_erp.sales_orders by name
            select * replace ('{new_order}' as order_id, '{new_member}' as member_id)
            from raw_erp.sales_orders where {order_row}""")
        con.execute(f"""insert into raw_erp.sales_order_lines by name
            select * replace ('{new_order}' as order_id,
                              (order_line_id::bigint + 100000000)::varchar as order_line_id)
            from raw_erp.sales_order_lines where try_cast(order_id as bigint) = ?""", [order])
    run_dbt(["run", *select], copy, target)

    with duckdb.connect(str(copy), read_only=True) as con:
        rejected = dict(con.execute("""select ticket_id, _reject_reason
            from staging.stg_service_desk__tickets_rejected
            where ticket_id like 'H3-%'""").fetchall())
        assert rejected == {"H3-1900": "IMPOSSIBLE_DATE", "H3-9999": "IMPOSSIBLE_DATE"}
        assert con.execute("""select count(*) from marts.fct_tickets
                              where ticket_id like 'H3-%'""").fetchone()[0] == 0
        comma = con.execute("""select _reject_reason, _raw_record::json ->> 'total_amount'
            from staging.stg_ecommerce__orders_rejected
            where order_id = 'H3-COMMA'""").fetchall()
        assert comma == [("UNPARSEABLE_AMOUNT", "12,50")]
        assert con.execute("""select count(*) from marts.fct_orders
                              where web_order_id = 'H3-COMMA'""").fetchone()[0] == 0
        orphan = con.execute("""select customer_key, reference_issue, gross_revenue
            from marts.fct_orders where order_key = ?""", [f"E{new_order}"]).fetchone()
        original = con.execute("""select gross_revenue from marts.fct_orders
            where order_key = ?""", [f"E{order}"]).fetchone()
        # kept, its revenue counted, its customer unknown and said so
        assert orphan == (None, "UNKNOWN_MEMBER", original[0]) and original[0] > 0
        assert con.execute("""select count(*) from staging.reconciliation
                              where not balanced""").fetchone()[0] == 0

    # the member arrives in a later batch than its order
    with duckdb.connect(str(copy)) as con:
        _, member = _staged(con, "staging.stg_erp__members", "member_id")
        con.execute(f"""insert into raw_erp.members by name
            select * replace ('{new_member}' as member_id, 'M-H3-LATE' as member_no,
                              'h3-late' as _batch_id, _extracted_at + interval 1 day
                              as _extracted_at)
            from raw_erp.members where {member}""")
    run_dbt(["run", *select], copy, target)
    with duckdb.connect(str(copy), read_only=True) as con:
        customer_key, issue = con.execute("""select customer_key, reference_issue
            from marts.fct_orders where order_key = ?""", [f"E{new_order}"]).fetchone()
        assert customer_key is not None and issue is None
        assert con.execute("""select count(*) from staging.stg_erp__sales_orders
                              where reference_issue is not null""").fetchone()[0] == 0
