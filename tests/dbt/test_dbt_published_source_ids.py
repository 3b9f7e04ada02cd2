"""The dbt marts publish no person's source id: only pseudonyms, which still join.

The simulated world built by dbt (conftest.py), published by the real publish() into a private
folder (the build is only read). Every published column is compared with every raw source id
of a person: ERP member ids and numbers, web-shop account ids, service-desk contact ids.
"""

from __future__ import annotations

import os
import re

import duckdb
import pytest

from warehouse.pii.crypto import pseudonymize_sql
from warehouse.publish import BI_SCHEMAS, PublicationPaths, publish

# dbt's pseudonymize() uses CRMW_PSEUDONYM_KEY, or this public development key without it
# (dbt_project/macros/pii/pii.sql, _pii_development_key).
DEVELOPMENT_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
# (raw table, column) holding a person's source id, in every source table that has one.
PERSON_ID_COLUMNS = ("member_id", "member_no", "loyalty_member_no", "customer_id", "contact_id")


@pytest.fixture(scope="module")
def published(built_warehouse, tmp_path_factory):
    """(connection with the build as ``b`` and the publication as ``p``, the key dbt used)."""
    folder = tmp_path_factory.mktemp("published")
    result = publish(built_warehouse.warehouse_path,
                     PublicationPaths(folder / "marts.duckdb", folder / "parquet"))
    con = duckdb.connect()
    con.execute(f"attach '{built_warehouse.warehouse_path}' as b (read_only)")
    con.execute(f"attach '{result.database}' as p (read_only)")
    yield con, bytes.fromhex(os.environ.get("CRMW_PSEUDONYM_KEY") or DEVELOPMENT_KEY)
    con.close()


def _raw_ids(con) -> None:
    """Temp table ids(id, numeric, source): every person id of every raw table, as text."""
    columns = con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() where "
        "database_name = 'b' and schema_name like 'raw\\_%' escape '\\' and "
        "list_contains(?, column_name)", [list(PERSON_ID_COLUMNS)]).fetchall()
    assert len(columns) >= 9  # members, orders, accounts, sessions, events, tickets, ...
    con.execute("create or replace temp table ids as select id, "
                "regexp_full_match(id, '[0-9]+') as numeric, min(source) as source from ("
                + " union all ".join(
                    f"select distinct trim(\"{c}\"::varchar) as id, '{s}.{t}.{c}' as source "
                    f"from b.{s}.{t}" for s, t, c in columns)
                + ") where id <> '' group by all")


def test_no_published_column_holds_an_unhashed_source_id(published):
    con, _ = published
    _raw_ids(con)
    text_ids, numeric_ids = con.execute(
        "select count(*) filter (where not numeric), count(*) filter (where numeric) from ids"
    ).fetchone()
    assert text_ids > 1000 and numeric_ids > 300
    # Member ids are plain numbers, like counts and order ids: a column leaks them when its
    # rows carry *their own* customer's member id, not when a number merely coincides.
    con.execute("""create or replace temp table own_ids as
        select customer_key, source_id as id from b.intermediate.int_customer_identity_map""")
    columns = con.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns() "
        "where database_name = 'p' and list_contains(?, schema_name) order by 1, 2, 3",
        [list(BI_SCHEMAS)]).fetchall()
    keyed = {(s, t) for s, t, c, _ in columns if c == "customer_key"}
    assert len(columns) > 150 and len(keyed) >= 8
    leaks = []
    for schema, table, column, data_type in columns:
        relation = f'p."{schema}"."{table}"'
        value = f'unnest("{column}")' if data_type.endswith("[]") else f'"{column}"'
        # a text id (C0001234, SD-000123, M00000012) anywhere: a value or a word in a text
        n = con.execute(
            "select count(*) from (select unnest(regexp_split_to_array(v, '[^A-Za-z0-9-]+')) "
            f"as w from (select {value}::varchar as v from {relation})) x "
            "join ids on not ids.numeric and x.w = ids.id").fetchone()[0]
        if n:
            leaks.append(f"{schema}.{table}.{column}: {n} text ids")
        if (schema, table) in keyed and column != "customer_key":
            rows, own = con.execute(
                f"select count(*), count(*) filter (where exists (select 1 from own_ids o "
                f"where o.customer_key = x.customer_key and o.id = x.v)) from (select "
                f"customer_key, {value}::varchar as v from {relation} "
                "where customer_key is not null) x").fetchone()
            if rows and own > max(3, 0.02 * rows):
                leaks.append(f"{schema}.{table}.{column}: {own} of {rows} rows hold their "
                             "customer's own source id")
    assert leaks == []


def test_id_columns_are_pseudonyms_that_join(published):
    con, key = published
    hashed = pseudonymize_sql("source_id", key)
    con.execute(f"""create or replace temp table expected as
        select customer_key, source_table, {hashed} as h
        from b.intermediate.int_customer_identity_map""")
    columns = {"erp_member_id_hashes": "members", "ecommerce_customer_id_hashes": "customers",
               "service_contact_id_hashes": "contacts"}
    for column, source_table in columns.items():
        got = set(con.execute(f"select customer_key, unnest({column}) "
                              "from p.marts.dim_customer").fetchall())
        want = set(con.execute("select customer_key, h from expected where source_table = ?",
                               [source_table]).fetchall())
        assert got == want and len(got) > 100, column
        assert all(re.fullmatch("[0-9a-f]{64}", h) for _, h in got)
    # The facts carry the same pseudonyms: a ticket's contact is in its customer's list.
    for table, column, key_column in (("fct_tickets", "contact_id_hash", "ticket_id"),
                                      ("fct_survey_responses", "contact_id_hash", "response_id"),
                                      ("fct_events", "web_customer_id_hash", "event_id")):
        total, matched, joined = con.execute(f"""
            select count({column}),
                   count(*) filter (where regexp_full_match({column}, '[0-9a-f]{{64}}')),
                   count(*) filter (where list_contains(
                       d.service_contact_id_hashes || d.ecommerce_customer_id_hashes, {column}))
            from p.marts.{table} f left join p.marts.dim_customer d using (customer_key)
        """).fetchone()
        resolved = con.execute(f"select count(*) from p.marts.{table} "
                               f"where customer_key is not null").fetchone()[0]
        assert total > 100 and matched == total, table
        assert joined == resolved, f"{table}: {resolved - joined} rows whose id is not in " \
                                   f"their customer's pseudonyms ({key_column})"
    # customer_360 derives its flags from the pseudonym lists.
    flags = con.execute("""select count(*) filter (where c.is_loyalty_member
                                                   = (len(d.erp_member_id_hashes) > 0)),
                                  count(*)
                           from p.marts.customer_360 c join p.marts.dim_customer d
                           using (customer_key)""").fetchone()
    assert flags[0] == flags[1] > 300
