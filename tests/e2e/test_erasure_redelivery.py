"""Erasure that holds (issue 16), with real processes: on a copy of the shared demo world
(tests/e2e/conftest.py: `crm-warehouse simulate` and `run`), `forget`, a re-delivery of the
person by every source, `run` again.

A person present in all three systems (from the simulator's truth) is erased; the ERP then
updates their member row (newer ``updated_at``) and books an order for them, the web shop
exports their account again and the service desk their contact. After the next run no byte
of their e-mail, phone, name, source ids or customer key is in any file of the data folder or
the Dagster home (DuckDB files, WALs, Parquet, JSON, HTML, SQLite event logs included), the
re-delivered rows are quarantined as ERASED_SUBJECT without values and counted, and
reconciliation balances.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from cli_runner import run_cli

from warehouse.pii.erasure import find_residue

pytestmark = pytest.mark.slow




def _pick_person(warehouse: Path, truth: Path) -> dict:
    """A person with one record in each system, resolved to one customer key of their own,
    whose e-mail, phone and name no other record carries (so byte searches are exact)."""
    records = pd.read_parquet(truth / "person_records.parquet")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        idmap = con.execute("select source_system, source_table, source_id, customer_key "
                            "from intermediate.int_customer_identity_map").df()
        records["source_id"] = records["source_id"].astype(str)
        merged = records.merge(idmap, on=["source_system", "source_table", "source_id"])
        for person_id, group in merged.groupby("person_id"):
            if sorted(group.source_system) != ["ecommerce", "erp", "service_desk"]:
                continue
            keys = group.customer_key.unique()
            if len(keys) != 1 or (idmap.customer_key == keys[0]).sum() != 3:
                continue
            ids = dict(zip(group.source_system, group.source_id, strict=True))
            person = _identifiers(con, ids["erp"], ids["ecommerce"], ids["service_desk"])
            person.update(person_id=person_id, customer_key=keys[0])
            if person["emails"] and person["phones"] and _unique_to(con, person):
                return person
    finally:
        con.close()
    raise AssertionError("no person with one record in each system and values of their own")


def _identifiers(con, member_id: str, customer_id: str, contact_id: str) -> dict:
    emails, phones, names, loyalty = set(), set(), set(), set()
    for email, phone, first, last, member_no in con.execute(
            "select email, phone, first_name, last_name, member_no from raw_erp.members "
            "where member_id = ?", [member_id]).fetchall():
        emails.add(email), phones.add(phone), names.add(f"{first} {last}"), loyalty.add(member_no)
    for email, phone, first, last, member_no in con.execute(
            "select email, phone, first_name, last_name, loyalty_member_no from "
            "raw_ecommerce.customers where customer_id = ?", [customer_id]).fetchall():
        emails.add(email), phones.add(phone), names.add(f"{first} {last}"), loyalty.add(member_no)
    for email, phone, full_name in con.execute(
            "select email, phone, full_name from raw_service.contacts where contact_id = ?",
            [contact_id]).fetchall():
        emails.add(email), phones.add(phone), names.add(full_name)

    def clean(values, shortest):
        return {v.strip() for v in values if v and len(v.strip()) >= shortest
                and "None" not in v}

    return {"member_id": member_id, "customer_id": customer_id, "contact_id": contact_id,
            "emails": clean(emails, 5), "phones": clean(phones, 7), "names": clean(names, 6),
            "loyalty": clean(loyalty, 4)}


def _unique_to(con, person: dict) -> bool:
    """No record of anybody else holds one of the person's values."""
    for value in person["emails"] | person["phones"] | person["names"]:
        n = con.execute(
            "select (select count(*) from raw_erp.members where member_id <> ? and "
            "  contains(lower(concat_ws(' ', email, phone, first_name || ' ' || last_name)), ?))"
            "+ (select count(*) from raw_ecommerce.customers where customer_id <> ? and "
            "  contains(lower(concat_ws(' ', email, phone, first_name || ' ' || last_name)), ?))"
            "+ (select count(*) from raw_service.contacts where contact_id <> ? and "
            "  contains(lower(concat_ws(' ', email, phone, full_name)), ?))",
            [person["member_id"], value.lower(), person["customer_id"], value.lower(),
             person["contact_id"], value.lower()]).fetchone()[0]
        if n:
            return False
    return True


def _needles(person: dict) -> dict[str, re.Pattern]:
    """Every form of the person's values as bytes, case-insensitive, as whole tokens (the
    member id 7 is in erp:members:7, not in erp:members:70)."""
    texts = (person["emails"] | person["phones"] | person["names"] | person["loyalty"]
             | {person["customer_id"], person["contact_id"], person["customer_key"],
                f"erp:members:{person['member_id']}"})
    return {t: re.compile(rb"(?<![A-Za-z0-9])" + re.escape(t.encode()) + rb"(?![A-Za-z0-9])",
                          re.IGNORECASE) for t in texts}


def _grep(folders: list[Path], needles: dict[str, re.Pattern]) -> list[str]:
    hits = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            found = sorted(text for text, pattern in needles.items() if pattern.search(data))
            if found:
                hits.append(f"{path}: {found}")
    return hits


def _redeliver(sources: Path, person: dict) -> dict[str, str]:
    """The person again from every source, one day after the simulated world ends."""
    manifest = json.loads((sources / "_truth" / "manifest.json").read_text())
    day = dt.date.fromisoformat(manifest["world_end_date"]) + dt.timedelta(days=2)
    stamp = f"{day} 10:00:00"
    erp = sqlite3.connect(sources / "erp" / "erp.sqlite")
    try:
        assert erp.execute("update members set updated_at = ?, street = '1 New Street' "
                           "where member_id = ?", [stamp, int(person["member_id"])]).rowcount == 1
        order_id = erp.execute("select max(order_id) + 1 from sales_orders").fetchone()[0]
        store = erp.execute("select store_id from stores where store_id <> 'WEB' limit 1"
                            ).fetchone()[0]
        erp.execute("insert into sales_orders values (?, ?, ?, 'STORE', null, ?, 'COMPLETED', "
                    "'USD', 42.5, ?)", [order_id, int(person["member_id"]), store, stamp, stamp])
        erp.commit()
    finally:
        erp.close()

    account = None
    for path in sorted((sources / "ecommerce" / "customers").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip() and json.loads(line).get("customer_id") == person["customer_id"]:
                    account = json.loads(line)
    assert account is not None
    account["updated_at"] = f"{day}T10:00:00Z"
    customers = sources / "ecommerce" / "customers" / f"customers_{day}.jsonl.gz"
    with gzip.open(customers, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(account) + "\n")

    header, contact = None, None
    for path in sorted((sources / "service_desk" / "contacts").glob("*.csv")):
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        if rows:
            header = list(rows[0])
        contact = next((r for r in rows if r["contact_id"] == person["contact_id"]), contact)
    assert contact is not None
    contact["updated_at"] = stamp
    contacts = sources / "service_desk" / "contacts" / f"contacts_{day}.csv"
    with open(contacts, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerow(contact)
    return {"customers": f"customers/{customers.name}", "contacts": f"contacts/{contacts.name}"}


def test_erased_person_redelivered_by_every_source_stays_erased(world, tmp_path):
    # a private copy: the shared world stays as the other end-to-end tests expect it
    root = tmp_path / "world"
    shutil.copytree(world["root"], root, symlinks=True)
    env = dict(world["env"])
    for name in ("CRMW_SOURCES_DIR", "CRMW_WAREHOUSE_PATH", "DAGSTER_HOME", "CRMW_PII_KEY_FILE",
                 "CRMW_PSEUDONYM_KEY_FILE"):
        env[name] = str(root / Path(env[name]).relative_to(world["root"]))
    warehouse = Path(env["CRMW_WAREHOUSE_PATH"])
    data, home, sources = warehouse.parent, Path(env["DAGSTER_HOME"]), Path(env["CRMW_SOURCES_DIR"])

    person = _pick_person(warehouse, sources / "_truth")
    needles = _needles(person)
    vault = {"vault_file": data / "pii.duckdb", "vault_key": env.get("CRMW_PII_KEY") or Path(
        env["CRMW_PII_KEY_FILE"]).read_text().strip()}
    # positive control: the values are found (DuckDB's compression may hide their bytes; SQL
    # over every table, the vault's with its key, does not)
    found = find_residue([data], set(needles), **vault)
    assert any(f.startswith(f"{warehouse} ") for f in found), found
    email = sorted(person["emails"])[0]

    erased = run_cli(env, "forget", "--customer", email)
    assert "Verified: nothing of the person remains" in erased.stdout, erased.stdout
    assert _grep([data, home], needles) == []
    assert find_residue([data, home], set(needles), **vault) == []

    files = _redeliver(sources, person)
    run_cli(env, "run", "--quiet")

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        quarantined = con.execute(
            "select source_table, file_path, count(*), count(raw_text) from "
            "raw_meta.quarantined_lines where reason = 'ERASED_SUBJECT' group by all "
            "order by 1").fetchall()
        assert quarantined == [("contacts", files["contacts"], 1, 0),
                               ("customers", files["customers"], 1, 0),
                               ("members", "members", 1, 0),
                               ("sales_orders", "sales_orders", 1, 0)], quarantined
        assert con.execute(
            "select file_path, rows_read, rows_loaded, rows_quarantined from "
            "raw_meta.loaded_files where list_contains(?, file_path) order by 1",
            [list(files.values())]).fetchall() == [(files["contacts"], 1, 0, 1),
                                                   (files["customers"], 1, 0, 1)]
        assert con.execute("select count(*) from raw_meta.loaded_files "
                           "where rows_read <> rows_loaded + rows_quarantined").fetchone()[0] == 0
        unbalanced = con.execute("select source_table from staging.reconciliation "
                                 "where not balanced").fetchall()
        assert unbalanced == []
        assert con.execute("select count(*) from raw_erp.members where member_id = ?",
                           [person["member_id"]]).fetchone()[0] == 0
        assert con.execute("select count(*) from marts.dim_customer where customer_key = ?",
                           [person["customer_key"]]).fetchone()[0] == 0
        assert con.execute(
            "select count(*) from intermediate.int_customer_identity_map where "
            "list_contains(?, source_id)", [[person["member_id"], person["customer_id"],
                                             person["contact_id"]]]).fetchone()[0] == 0
    finally:
        con.close()

    hits = _grep([data, home], needles)
    assert hits == [], "\n".join(hits)
    assert find_residue([data, home], set(needles), **vault) == []
    again = run_cli(env, "forget", "--customer", email)
    assert "Already erased" in again.stdout and "Verified" in again.stdout, again.stdout
