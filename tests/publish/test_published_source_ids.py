"""No published column holds a person's raw source id; the guard refuses one that does.

On the synthetic serving warehouse (tests/pii/serving_warehouse.py): every person has an ERP
member id, a web-shop account id and a service-desk contact id. The BI tier carries them only
as pseudonyms (HMAC-SHA256 under the pseudonym key, 64 hex digits) that join back to the
person through the vault (pii.duckdb), never as the ids themselves.
"""

import re
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "pii"))

import serving_warehouse  # noqa: E402

from warehouse.pii.crypto import pseudonymize  # noqa: E402
from warehouse.pii.vault import fill_vault, lookup, open_vault  # noqa: E402
from warehouse.publish import (  # noqa: E402
    BI_SCHEMAS,
    PublishRefused,
    publication_paths,
    publish,
    read_manifest,
)

KEY = bytes.fromhex("5e" * 32)
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Every raw column holding a person's source id in the synthetic build.
RAW_ID_COLUMNS = (("raw_erp.members", "member_id"), ("raw_erp.members", "member_no"),
                  ("raw_erp.sales_orders", "member_id"), ("raw_ecommerce.customers", "customer_id"),
                  ("raw_ecommerce.orders", "customer_id"), ("raw_service.contacts", "contact_id"),
                  ("raw_service.tickets", "contact_id"))


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMW_PSEUDONYM_KEY", KEY.hex())
    monkeypatch.setenv("CRMW_PII_KEY", "test-vault-key-" + "x" * 20)
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    path = tmp_path / "warehouse.duckdb"
    serving_warehouse.build(path, key=KEY)
    return path


def _published_text(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    """(schema.table.column, SQL of its values as text) for every column of every published
    BI relation: list elements one by one, anything else cast to text."""
    columns = con.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns() "
        "where database_name = ? and list_contains(?, schema_name)",
        [catalog, list(BI_SCHEMAS)]).fetchall()
    out = []
    for schema, table, column, data_type in columns:
        relation = f'{catalog}."{schema}"."{table}"'
        value = f'unnest("{column}")' if data_type.endswith("[]") else f'"{column}"'
        out.append((f"{schema}.{table}.{column}",
                    f"select {value}::varchar as v from {relation}"))
    return out


def test_no_published_column_holds_an_unhashed_source_id(build, tmp_path):
    result = publish(build)
    con = duckdb.connect()
    con.execute(f"attach '{build}' as b (read_only)")
    con.execute(f"attach '{result.database}' as p (read_only)")
    con.execute("create temp table ids as " + " union ".join(
        f"select distinct trim({c}::varchar) as id from b.{t}" for t, c in RAW_ID_COLUMNS))
    assert con.execute("select count(*) from ids").fetchone()[0] == 4 * 60  # 3 ids + member_no

    columns = _published_text(con, "p")
    assert len(columns) >= 30
    found = []
    for name, values in columns:
        # the id as a whole value, or inside a longer text (JSON, a sentence)
        n = con.execute(f"select count(*) from ({values}) x join ids "
                        "on x.v = ids.id or (length(ids.id) >= 5 and contains(x.v, ids.id))"
                        ).fetchone()[0]
        if n:
            found.append(f"{name}: {n}")
    assert found == []
    # The same for the Parquet copy BI tools may read instead.
    for parquet in sorted(result.parquet_dir.rglob("*.parquet")):
        described = con.execute(f"describe select * from read_parquet('{parquet}')").fetchall()
        for column, data_type, *_ in described:
            value = f'unnest("{column}")' if data_type.endswith("[]") else f'"{column}"'
            n = con.execute(f"select count(*) from (select {value}::varchar as v from "
                            f"read_parquet('{parquet}')) x join ids on x.v = ids.id").fetchone()[0]
            assert n == 0, f"{parquet.name}.{column}"

    # The id columns are pseudonyms: 64 hex digits, the pseudonymize() of each id.
    rows = {r[0]: r[1:] for r in con.execute(
        "select customer_key, erp_member_id_hashes, ecommerce_customer_id_hashes, "
        "service_contact_id_hashes from p.marts.dim_customer").fetchall()}
    assert len(rows) == 60
    for person in serving_warehouse.people():
        members, accounts, contacts = rows[person.customer_key]
        assert members == [pseudonymize(person.member_id, KEY)]
        assert accounts == [pseudonymize(person.customer_id, KEY)]
        assert contacts == [pseudonymize(person.contact_id, KEY)]
        assert all(HEX64.match(h) for h in members + accounts + contacts)
    con.close()

    # ... and they join back to the person through the vault, for the privacy officer only.
    vault = tmp_path / "pii.duckdb"
    fill_vault(build, vault)
    with open_vault(vault, read_only=True) as officer:
        officer.execute(f"attach '{result.database}' as p (read_only)")
        joined = officer.execute("""
            select r.source_table, count(*), count(*) filter (where r.customer_key = d.customer_key)
            from customer_records r
            join p.marts.dim_customer d
              on list_contains(d.erp_member_id_hashes || d.ecommerce_customer_id_hashes
                               || d.service_contact_id_hashes, r.source_id_hash)
            group by 1 order by 1""").fetchall()
        target = officer.execute(
            "select distinct email from customer_records where source_id_hash = ?",
            [pseudonymize(serving_warehouse.TARGET.contact_id, KEY)]).fetchall()
    assert joined == [("contacts", 60, 60), ("customers", 60, 60), ("members", 60, 60)]
    assert target == [(serving_warehouse.TARGET.email,)]
    records = lookup(pseudonymize(serving_warehouse.TARGET.member_id, KEY), vault)
    assert {r["customer_key"] for r in records} == {serving_warehouse.TARGET.customer_key}
    assert len(records) == 3


LEAKS = {
    "text id, any column name": (
        "create table marts.fct_leak as select ticket_id, contact_id as raised_by "
        "from raw_service.tickets", "marts.fct_leak.raised_by",
        "service_desk.contacts.contact_id"),
    "numeric member id in a column named for it": (
        "create table marts.fct_leak as select member_id::integer as member_id "
        "from raw_erp.members", "marts.fct_leak.member_id", "erp.members.member_id"),
    "ids in a list": (
        "create table marts.dim_leak as select list(customer_id) as accounts "
        "from raw_ecommerce.customers", "marts.dim_leak.accounts",
        "ecommerce.customers.customer_id"),
    "numeric member id in JSON keys": (
        "create table quality.leak as select '[{\"member_id\": ' || member_id || "
        "', \"_source_row_number\": 3}]' as failing_record_keys from raw_erp.members",
        "quality.leak.failing_record_keys", "erp.members.member_id"),
}


@pytest.mark.parametrize("leak", LEAKS.values(), ids=list(LEAKS))
def test_publish_refuses_a_raw_source_id_and_keeps_the_previous(build, leak):
    ddl, column, source = leak
    publish(build)
    paths = publication_paths(build)
    before, current_before = read_manifest(paths.database), paths.parquet_current.resolve()
    con = duckdb.connect(str(build))
    con.execute(ddl)
    con.close()
    with pytest.raises(PublishRefused, match=re.escape(column)) as refused:
        publish(build)
    message = str(refused.value)
    assert source in message and "pseudonym" in message
    assert not re.search(r"SD-\d|C\d{7}|\b10\d\d\b", message)  # names columns, never values
    assert read_manifest(paths.database) == before
    assert paths.parquet_current.resolve() == current_before
    assert [p.name for p in build.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_numbers_that_only_look_like_member_ids_are_published(build):
    """ERP member ids are plain numbers: a count that happens to equal one is no leak."""
    con = duckdb.connect(str(build))
    con.execute("create table marts.kpi_leaklike as select member_id::integer as orders, "
                "member_id as order_ref, hash(member_id) % 7 as member_count "
                "from raw_erp.members")
    con.close()
    result = publish(build)
    assert result.tables["marts.kpi_leaklike"] == 60
