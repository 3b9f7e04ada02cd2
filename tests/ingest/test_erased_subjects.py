"""Erased subjects stay out at extraction: a person on ``privacy.erased_subjects`` delivered
again by the ERP, the web shop or the service desk (and their orders) is quarantined as
``ERASED_SUBJECT`` with no raw text, counted so every file still balances, and never written
to the warehouse; a new account caught by e-mail joins the list; an ERP row read again at the
cursor is not quarantined twice."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from contracts.sources import source_table
from ingest import ingest_sources as src
from ingest.ingest_sources import query
from warehouse.extract import extract
from warehouse.pii import erased

KEY = bytes.fromhex("7a" * 32)
DAY = dt.date(2024, 3, 1)
EMAIL = "Zora.Quillfeather@Example.org"
PHONE = "+1 (555) 010-4242"
NAME = ("Zora", "Quillfeather")
CUSTOMER_ID = "CU0301000001"  # record 1 of the customers export
NEW_ACCOUNT = "CU0301000009"  # a new web account of the same person (same e-mail)
CONTACT_ID = "CO0301000001"


@pytest.fixture
def erased_env(env, monkeypatch):
    monkeypatch.setenv("CRMW_PSEUDONYM_KEY", KEY.hex())
    env.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(env.warehouse_path))
    erased.record(con, {erased.EMAIL: [EMAIL], erased.PHONE: [PHONE],
                        erased.ERP_MEMBER: ["1"], erased.ECOMMERCE_CUSTOMER: [CUSTOMER_ID],
                        erased.SERVICE_CONTACT: [CONTACT_ID]}, "erasure-test", KEY)
    con.close()
    return env


def _deliver(env) -> None:
    erp = env.sources_dir / "erp" / "erp.sqlite"
    src.create_sqlite_erp(erp)
    members = source_table("erp", "members")
    rows = src.erp_rows(members, [1, 2, 3], src.BASE_TS)
    rows[0].update(email=f" {EMAIL.upper()} ", phone="555.010.4242", first_name=NAME[0],
                   last_name=NAME[1])
    src.insert_sqlite(erp, "members", rows)
    orders = source_table("erp", "sales_orders")
    src.insert_sqlite(erp, "sales_orders", src.erp_rows(orders, [1, 2], src.BASE_TS))

    customers = source_table("ecommerce", "customers")
    records = src.export_records(customers, 3, DAY)
    records[0].update(email=EMAIL.lower(), phone="(555) 010-4242", first_name=NAME[0],
                      last_name=NAME[1])
    new_account = dict(src.export_records(customers, 1, DAY, start=9)[0], email=EMAIL,
                       first_name=NAME[0], last_name=NAME[1])
    src.write_jsonl(src.export_path(env.ecommerce_dir, customers, DAY), records + [new_account])
    web_orders = source_table("ecommerce", "orders")
    order_records = src.export_records(web_orders, 3, DAY)
    order_records[0]["customer_id"] = CUSTOMER_ID
    order_records[1]["customer_id"] = NEW_ACCOUNT
    src.write_jsonl(src.export_path(env.ecommerce_dir, web_orders, DAY), order_records)

    contacts = source_table("service_desk", "contacts")
    records = src.export_records(contacts, 3, DAY)
    records[0].update(full_name=" ".join(NAME), email=EMAIL, phone=PHONE)
    src.write_csv(src.export_path(env.service_desk_dir, contacts, DAY), records)


def _erased_lines(table: str) -> list[tuple]:
    return query("SELECT file_path, line_number, raw_text FROM raw_meta.quarantined_lines "
                 "WHERE reason = 'ERASED_SUBJECT' AND source_table = ? ORDER BY 1, 2", [table])


def test_redelivered_person_is_quarantined_without_values(erased_env):
    env = erased_env
    _deliver(env)
    results = {name: extract(name) for name in (
        "erp.members", "erp.sales_orders", "ecommerce.customers", "service_desk.contacts",
        "ecommerce.orders")}

    assert query("SELECT member_id FROM raw_erp.members ORDER BY 1") == [("2",), ("3",)]
    assert query("SELECT order_id FROM raw_erp.sales_orders") == [("2",)]  # member 1's order
    assert query("SELECT customer_id FROM raw_ecommerce.customers ORDER BY 1") == [
        ("CU0301000002",), ("CU0301000003",)]
    assert query("SELECT contact_id FROM raw_service.contacts ORDER BY 1") == [
        ("CO0301000002",), ("CO0301000003",)]
    # the orders of the erased account and of the new account caught by its e-mail
    assert query("SELECT order_id FROM raw_ecommerce.orders") == [("OR0301000003",)]

    assert _erased_lines("members") == [("members", 1, None)]
    assert _erased_lines("sales_orders") == [("sales_orders", 1, None)]
    assert _erased_lines("customers") == [("customers/customers_2024-03-01.jsonl.gz", 1, None),
                                          ("customers/customers_2024-03-01.jsonl.gz", 4, None)]
    assert _erased_lines("contacts") == [("contacts/contacts_2024-03-01.csv", 1, None)]
    assert _erased_lines("orders") == [("orders/orders_2024-03-01.jsonl.gz", 1, None),
                                       ("orders/orders_2024-03-01.jsonl.gz", 2, None)]

    # counted: rows read = loaded + quarantined, per file and per batch
    assert query("SELECT count(*) FROM raw_meta.loaded_files "
                 "WHERE rows_read <> rows_loaded + rows_quarantined") == [(0,)]
    assert query("SELECT file_path, rows_read, rows_loaded, rows_quarantined FROM "
                 "raw_meta.loaded_files WHERE source_table = 'customers'") == [
        ("customers/customers_2024-03-01.jsonl.gz", 4, 2, 2)]
    customers = results["ecommerce.customers"]
    assert (customers.rows_read, customers.rows_loaded, customers.rows_quarantined) == (4, 2, 2)
    assert {q.reason for q in customers.quarantined} == {"ERASED_SUBJECT"}
    assert query("SELECT rows_loaded, rows_quarantined FROM raw_meta.batches "
                 "WHERE source_table = 'members'") == [(2, 1)]

    # the new account's id joined the list
    con = duckdb.connect(str(env.warehouse_path), read_only=True)
    listed = erased.load(con, lambda: KEY)
    con.close()
    assert listed.matches(erased.ECOMMERCE_CUSTOMER, NEW_ACCOUNT)
    assert not listed.matches(erased.ECOMMERCE_CUSTOMER, "CU0301000002")

    # read again at the ERP cursor: neither loaded nor quarantined twice
    again = extract("erp.members")
    assert (again.rows_loaded, again.rows_quarantined) == (0, 0)
    assert len(_erased_lines("members")) == 1

    # nothing of the person was ever written to the warehouse files
    needles = [EMAIL.encode(), EMAIL.lower().encode(), EMAIL.upper().encode(), b"010-4242",
               b"010.4242", NAME[1].encode(), CUSTOMER_ID.encode(), CONTACT_ID.encode()]
    for path in env.warehouse_path.parent.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [n for n in needles if n in data], path


def test_rows_listed_before_identifier_kinds_are_still_honoured(env, monkeypatch):
    """privacy.erased_subjects rows written by the first erasure tool (no identifier_kind,
    the plain HMAC of a source id) keep that person out too."""
    from warehouse.pii.crypto import pseudonymize

    monkeypatch.setenv("CRMW_PSEUDONYM_KEY", KEY.hex())
    env.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(env.warehouse_path))
    con.execute("create schema privacy")
    con.execute("create table privacy.erased_subjects (source_system varchar, source_table "
                "varchar, source_id_hash varchar, request_id varchar, erased_at timestamp)")
    con.execute("insert into privacy.erased_subjects values ('service_desk', 'contacts', ?, "
                "'erasure-old', now())", [pseudonymize("CO0301000002", KEY)])
    con.close()
    contacts = source_table("service_desk", "contacts")
    src.write_csv(src.export_path(env.service_desk_dir, contacts, DAY),
                  src.export_records(contacts, 3, DAY))
    tickets = source_table("service_desk", "tickets")
    records = src.export_records(tickets, 2, DAY)
    records[1]["contact_id"] = "CO0301000002"
    src.write_csv(src.export_path(env.service_desk_dir, tickets, DAY), records)
    assert extract("service_desk.contacts").rows_quarantined == 1
    assert extract("service_desk.tickets").rows_quarantined == 1
    assert query("SELECT contact_id FROM raw_service.contacts ORDER BY 1") == [
        ("CO0301000001",), ("CO0301000003",)]
    assert query("SELECT ticket_id FROM raw_service.tickets") == [("TI0301000001",)]


def test_erased_rows_do_not_fail_the_quarantine_check():
    """Kept out on purpose, counted, but no delivery fault: the WARN check passes on them."""
    import dagster as dg

    from orchestration.defs.ingest.factory import materialization_metadata, quarantine_check
    from warehouse.extract.batch import QuarantinedLine, new_batch

    batch = new_batch("ecommerce", "customers")
    batch.quarantined = [QuarantinedLine("customers/c.jsonl.gz", 4, "ERASED_SUBJECT", None)]
    check = quarantine_check(batch, dg.AssetKey(["raw_ecommerce", "customers"]))
    assert check.passed and check.metadata["rows_erased_subject"].value == 1
    assert "1 row(s) of erased people kept out" in check.description
    assert materialization_metadata(batch)["rows_quarantined"].value == 1
    batch.quarantined.append(QuarantinedLine("customers/c.jsonl.gz", 5, "invalid JSON", "{"))
    check = quarantine_check(batch, dg.AssetKey(["raw_ecommerce", "customers"]))
    assert not check.passed and check.metadata["locations"].value == ["customers/c.jsonl.gz:5"]
