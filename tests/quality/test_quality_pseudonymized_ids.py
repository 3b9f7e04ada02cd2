"""The quality tables are published to BI: a person's source id appears there as a pseudonym.

quality.check_results keeps failing record keys; a member, account or contact id among them is
stored as ``<column>_hash`` (the pseudonym the marts carry); quality.rejected_rows keeps a
rejected person record's id the same way. Both pass the publication's raw-id guard.
"""

import json
import re

import duckdb
from quality_fixtures import outcome, run_suites

from expectations.results import build_rejected_rows
from warehouse.pii.crypto import pseudonymize
from warehouse.publish import publish

KEY = bytes.fromhex("5e" * 32)
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _sql(path, *statements):
    con = duckdb.connect(str(path))
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


def test_person_ids_in_quality_tables_are_pseudonyms(warehouse, suites, monkeypatch):
    monkeypatch.setenv("CRMW_PSEUDONYM_KEY", KEY.hex())
    _sql(warehouse,
         "update raw_erp.members set email = 'no-at-sign' where member_id::int <= 5",
         "update raw_service.contacts set email = 'nope' where contact_id <= 'SD-000003'")
    members, contacts = run_suites(
        warehouse, [suites["raw_erp.members"], suites["raw_service.contacts"]], "ids")
    # In memory (the Dagster check's metadata, for engineers) the keys are as delivered ...
    assert {k["member_id"] for k in outcome(members, "email_format").failing_record_keys} == {
        str(i) for i in range(1, 6)}
    _sql(warehouse,
         "create schema staging",
         "create table staging.stg_erp__members_rejected as select 'INVALID_EMAIL' as "
         "_reject_reason, member_id, _source_system, _source_object, _source_row_number, "
         "_batch_id from raw_erp.members where member_id::int <= 5")
    con = duckdb.connect(str(warehouse))
    build_rejected_rows(con)
    stored = {suite: json.loads(keys) for suite, keys in con.execute(
        "select suite, failing_record_keys from quality.check_results "
        "where expectation_id = 'email_format'").fetchall()}
    rejected = {r[0] for r in con.execute("select record_id from quality.rejected_rows")
                .fetchall()}
    con.close()

    # ... in the published table, pseudonyms; the source object and row still locate the row.
    member_keys, contact_keys = stored["raw_erp.members"], stored["raw_service.contacts"]
    assert {k["member_id_hash"] for k in member_keys} == {
        pseudonymize(str(i), KEY) for i in range(1, 6)}
    assert {k["contact_id_hash"] for k in contact_keys} == {
        pseudonymize(f"SD-{i:06d}", KEY) for i in range(1, 4)}
    for key in member_keys + contact_keys:
        assert not {"member_id", "contact_id"} & set(key)
        assert key["_source_object"] and key["_source_row_number"]
    assert rejected == {pseudonymize(str(i), KEY) for i in range(1, 6)}
    assert all(HEX64.match(h) for h in rejected)
    # The raw-id guard of the publication agrees: the quality schema publishes.
    result = publish(warehouse)
    assert "quality.check_results" in result.tables and "quality.rejected_rows" in result.tables
