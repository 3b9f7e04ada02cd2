"""Right to erasure: after forget(), no byte of the person remains in any warehouse file."""

import os

import duckdb
import pytest
import serving_warehouse
from serving_warehouse import TARGET

from warehouse.pii.crypto import pseudonymize
from warehouse.pii.erasure import (
    SubjectNotFound,
    erased_filter_sql,
    find_residue,
    forget,
)
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
    return synthetic_warehouse


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
    erased = set(con.execute("select source_system, source_table, source_id_hash "
                             "from privacy.erased_subjects").fetchall())
    assert ("erp", "members", pseudonymize(TARGET.member_id)) in erased
    assert len(erased) == 3
    con.close()

    # A re-delivered row of the person is filtered out by the erasure list.
    con = duckdb.connect(str(full_warehouse))
    con.execute("insert into raw_erp.members (member_id, email) values (?, 'x'), ('99999', 'y')",
                [TARGET.member_id])
    kept = con.execute(f"select member_id from raw_erp.members where member_id in (?, '99999') "
                       f"and {erased_filter_sql('erp', 'members', 'member_id')}",
                       [TARGET.member_id]).fetchall()
    con.close()
    assert kept == [("99999",)]

    assert lookup(TARGET.customer_key) == []
    pub = publication_paths(full_warehouse)
    versions = list((pub.parquet_root / "versions").iterdir())
    assert len(versions) == 1  # older publications holding the person are gone
    con = duckdb.connect(str(pub.database), read_only=True)
    assert con.execute("select count(*) from marts.marts.dim_customer where customer_key = ?",
                       [TARGET.customer_key]).fetchone()[0] == 0
    con.close()
    assert "[erased]" in (folder / "data_docs" / "validations" / "members.html").read_text()


def test_forget_by_customer_key_and_unknown_subject(full_warehouse):
    result = forget(TARGET.customer_key)
    assert result.clean and result.rows_deleted["raw_ecommerce.orders"] == 3
    with pytest.raises(SubjectNotFound, match="nobody@example.com"):
        forget("nobody@example.com")
    other = serving_warehouse.people()[5]
    assert len(lookup(other.email)) == 3  # others untouched in the vault
