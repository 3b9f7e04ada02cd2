"""Right to erasure: after forget(), no byte of the person remains in any warehouse file."""

import os
import shutil
import subprocess
import sys

import duckdb
import pytest
import serving_warehouse
from serving_warehouse import TARGET

from warehouse.pii import erased
from warehouse.pii.erasure import SubjectNotFound, find_residue, forget
from warehouse.pii.vault import fill_vault, lookup, vault_path
from warehouse.publish import publication_paths, publish

# Every way the person is written somewhere: e-mail in the cases delivered, phone as typed and
# as E.164, and each name alone (they are unique to this person in the synthetic population).
NEEDLES = [TARGET.email, TARGET.email.upper(), TARGET.phone_raw, TARGET.phone_e164,
           TARGET.first_name, TARGET.last_name, TARGET.first_name.upper(),
           TARGET.last_name.upper()]


def _files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _hits(folder):
    return [(str(p), n) for p in _files(folder) for n in NEEDLES
            if n.encode() in p.read_bytes()]


@pytest.fixture
def full_warehouse(synthetic_warehouse):
    fill_vault(synthetic_warehouse)
    publish(synthetic_warehouse)
    publish(synthetic_warehouse)  # an older Parquet version is kept around as well
    folder = synthetic_warehouse.parent
    # A derived text artifact naming the person, as Data Docs show unexpected values.
    docs = folder / "data_docs" / "validations"
    docs.mkdir(parents=True)
    (docs / "members.html").write_text(
        f"<td>unexpected: {TARGET.email.upper()}</td><td>{TARGET.phone_raw}</td>")
    # Bookkeeping and evidence that held the person before: a quarantined line with its raw
    # text, GX failing record keys, a match pair, and a dbt view naming its catalog (as dbt
    # does: the residue check once failed on it with 'Catalog "warehouse" does not exist').
    con = duckdb.connect(str(synthetic_warehouse))
    con.execute("""create table raw_meta.quarantined_lines (source_system varchar,
        source_table varchar, file_path varchar, line_number bigint, reason varchar,
        raw_text varchar, batch_id varchar, quarantined_at timestamp)""")
    con.execute("insert into raw_meta.quarantined_lines values ('ecommerce', 'customers', "
                "'customers/c.jsonl.gz', 7, 'invalid JSON', ?, 'b1', now()), ('ecommerce', "
                "'customers', 'customers/c.jsonl.gz', 9, 'invalid JSON', '{\"x\": 1', 'b1', "
                "now())", [f'{{"customer_id": "{TARGET.customer_id}", "email": '
                           f'"{TARGET.email}", "first_name": "{TARGET.first_name}"'])
    con.execute("create table quality.check_results (table_name varchar, "
                "failing_record_keys varchar)")
    con.execute("insert into quality.check_results values ('members', ?), ('customers', ?)",
                [f'[{{"member_id": {TARGET.member_id}, "_source_row_number": 1}}, '
                 '{"_source_row_number": 2}]',
                 f'[{{"customer_id": "{TARGET.customer_id}", "_source_row_number": 7}}]'])
    con.execute("create table intermediate.int_customer_match_pairs as select "
                "'erp:members:' || ? as record_id_a, 'ecommerce:customers:' || ? as "
                "record_id_b, ['email'] as deterministic_evidence union all select "
                "'erp:members:1005', 'ecommerce:customers:C0000005', ['phone']",
                [TARGET.member_id, TARGET.customer_id])
    con.execute('create view staging.v_members as select * from '
                '"warehouse"."staging"."stg_erp__members"')
    con.close()
    # What an interrupted publication leaves behind: a copy holding the person.
    shutil.copy(folder / "marts.duckdb", folder / ".marts.duckdb.20260101T000000Z-abc.tmp")
    (folder / "parquet" / "versions" / ".20260101T000000Z-abc.tmp").mkdir()
    shutil.copy(next((folder / "parquet" / "current" / "marts").glob("dim_customer*")),
                folder / "parquet" / "versions" / ".20260101T000000Z-abc.tmp")
    return synthetic_warehouse


@pytest.mark.slow
def test_forget_by_email_leaves_nothing_of_the_person(full_warehouse):
    folder = full_warehouse.parent
    assert _hits(folder), "positive control: the person is in the files before erasure"
    before = duckdb.connect(str(full_warehouse), read_only=True)
    members_before = before.execute("select count(*) from raw_erp.members").fetchone()[0]
    before.close()

    result = forget(f"  {TARGET.email.upper()} ")

    assert result.customer_keys == [TARGET.customer_key]
    assert result.source_records == 3
    assert result.clean, result.residual
    assert _hits(folder) == []
    # The SQL-level search (compression can hide bytes) finds nothing either.
    assert find_residue(folder, set(NEEDLES), vault_file=vault_path(full_warehouse),
                        vault_key=os.environ["CRMW_PII_KEY"]) == []

    con = duckdb.connect(str(full_warehouse), read_only=True)
    assert con.execute("select count(*) from raw_erp.members").fetchone()[0] == members_before - 1
    for table in ("marts.dim_customer", "marts.fct_orders", "ml.churn_scores"):
        assert con.execute(f"select count(*) from {table} where customer_key = ?",
                           [TARGET.customer_key]).fetchone()[0] == 0
    # Everybody else is still there.
    assert con.execute("select count(*) from marts.dim_customer").fetchone()[0] == 59
    assert con.execute("select count(*) from raw_erp.sales_orders").fetchone()[0] == 59 * 3
    assert con.execute("select count(*) from raw_erp.sales_order_lines").fetchone()[0] == 59 * 3
    # Audit without PII, and the hashed ids that keep the person out of the next run.
    audit = con.execute("select * from privacy.erasure_audit").fetchall()
    assert len(audit) == 1 and audit[0][7] is True
    assert TARGET.email not in str(audit) and TARGET.customer_key not in str(audit)
    listed = erased.load(con, lambda: bytes.fromhex(os.environ["CRMW_PSEUDONYM_KEY"]))
    for kind, value in ((erased.EMAIL, TARGET.email.upper()), (erased.PHONE, "555-010-9876"),
                        (erased.ERP_MEMBER, TARGET.member_id), (erased.LOYALTY_NO,
                        f"M{TARGET.n:08d}"), (erased.ECOMMERCE_CUSTOMER, TARGET.customer_id),
                        (erased.SERVICE_CONTACT, TARGET.contact_id),
                        (erased.ERP_ORDER, "1"), (erased.WEB_ORDER, "W0000001"),
                        (erased.TICKET, "T-0000000")):
        assert listed.matches(kind, value), (kind, value)
    other = serving_warehouse.people()[5]
    assert not listed.matches(erased.EMAIL, other.email)
    assert not listed.matches(erased.ERP_MEMBER, other.member_id)
    hashes = " ".join(r[0] for r in con.execute(
        "select source_id_hash from privacy.erased_subjects").fetchall())
    assert TARGET.customer_id not in hashes and TARGET.email not in hashes  # hashes only
    # Bookkeeping rows stay, without the person: raw text gone, failing keys redacted.
    assert con.execute("select line_number, raw_text from raw_meta.quarantined_lines "
                       "order by 1").fetchall() == [(7, None), (9, '{"x": 1')]
    keys = " ".join(r[0] for r in con.execute(
        "select failing_record_keys from quality.check_results").fetchall())
    assert TARGET.customer_id not in keys and f'"member_id": {TARGET.member_id},' not in keys
    assert keys == ('[{"member_id": [erased], "_source_row_number": 1}, {"_source_row_number": '
                    '2}] [{"customer_id": "[erased]", "_source_row_number": 7}]')
    assert con.execute("select record_id_a from intermediate.int_customer_match_pairs"
                       ).fetchall() == [("erp:members:1005",)]
    con.close()
    leftovers = [p.name for p in folder.rglob("*.tmp*")]
    assert leftovers == [], leftovers

    assert lookup(TARGET.customer_key) == []
    pub = publication_paths(full_warehouse)
    versions = list((pub.parquet_root / "versions").iterdir())
    assert len(versions) == 1  # older publications holding the person are gone
    con = duckdb.connect(str(pub.database), read_only=True)
    assert con.execute("select count(*) from marts.marts.dim_customer where customer_key = ?",
                       [TARGET.customer_key]).fetchone()[0] == 0
    con.close()
    assert "[erased]" in (folder / "data_docs" / "validations" / "members.html").read_text()


@pytest.mark.slow
def test_forget_by_customer_key_and_unknown_subject(full_warehouse):
    result = forget(TARGET.customer_key)
    assert result.clean and result.rows_deleted["raw_ecommerce.orders"] == 3
    with pytest.raises(SubjectNotFound, match="nobody@example.com"):
        forget("nobody@example.com")
    other = serving_warehouse.people()[5]
    assert len(lookup(other.email)) == 3  # others untouched in the vault
    # Asked again: already erased, nothing came back, clean.
    again = forget(TARGET.email)
    assert again.already_erased == result.request_id and again.clean
    assert "Already erased" in again.summary()


def test_residue_check_searches_the_build_database(full_warehouse):
    """The build database holds dbt views naming their catalog; the search binds them and
    finds the person in its tables (before erasure), never 'could not be searched'."""
    found = find_residue(full_warehouse.parent, {TARGET.email},
                         vault_file=vault_path(full_warehouse),
                         vault_key=os.environ["CRMW_PII_KEY"])
    assert f"{full_warehouse} " in " ".join(found)
    assert not [f for f in found if "could not be searched" in f], found


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_forget_cli_unknown_customer_one_line_exit_2(full_warehouse, tmp_path):
    env = dict(os.environ)
    proc = _cli("forget", "--customer", "nobody@example.com", env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "crm-warehouse forget: no customer with key or e-mail 'nobody@example.com' in the "
        "warehouse; nothing erased"]
    env["CRMW_WAREHOUSE_PATH"] = str(tmp_path / "none" / "warehouse.duckdb")
    proc = _cli("forget", "--customer", "nobody@example.com", env=env)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_dagster_check_metadata_names_no_person():
    """Dagster's event log is never rewritten, so check metadata carries no person id."""
    from orchestration.defs.quality.checks import dagster_record_keys

    keys = [{"customer_id": "C0000097", "_source_object": "customers/c.jsonl.gz",
             "_source_row_number": 97}, {"customer_key": "CK0123456789ABCDEF"},
            {"member_id": 7, "member_no": "M00000007"}, {"order_id": "W1"}]
    assert dagster_record_keys(keys) == [
        {"_source_object": "customers/c.jsonl.gz", "_source_row_number": 97}, {"order_id": "W1"}]


@pytest.mark.slow
def test_source_systems_inside_the_data_folder_are_neither_changed_nor_searched(
        full_warehouse, monkeypatch):
    """The demo keeps its sources in data/demo_sources: they still hold the person (until the
    sources erase them), so forget leaves them alone and does not count them as residue."""
    sources = full_warehouse.parent / "demo_sources"
    export = sources / "service_desk" / "contacts" / "contacts_2026-01-01.csv"
    export.parent.mkdir(parents=True)
    content = f"contact_id,email\n{TARGET.contact_id},{TARGET.email}\n"
    export.write_text(content)
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(sources))
    result = forget(TARGET.email)
    assert result.clean, result.residual
    assert export.read_text() == content  # a changed file would be loaded again as new
    assert str(sources) in result.not_searched and str(sources) in result.summary()
