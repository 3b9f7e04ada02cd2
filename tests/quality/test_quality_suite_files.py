"""The suite files stewards review cover the contract and parse strictly."""

import pytest

from contracts.sources import LINEAGE_COLUMNS, SOURCE_TABLES
from expectations.suite_files import SuiteFileError, load_suite


def test_every_raw_table_has_a_suite(suites):
    missing = [t.qualified_raw_name for t in SOURCE_TABLES if t.qualified_raw_name not in suites]
    assert not missing


@pytest.mark.parametrize("table", SOURCE_TABLES, ids=lambda t: t.qualified_raw_name)
def test_raw_suite_is_structural_where_it_must_be(suites, table):
    suite = suites[table.qualified_raw_name]
    present = suite.expectation("required_columns_present")
    assert present.severity == "error"
    expected = set(table.required_columns) | {c.name for c in LINEAGE_COLUMNS}
    assert set(present.kwargs["column_set"]) == expected
    for key in table.primary_key:
        assert suite.expectation(f"{key}_not_null").severity == "error"
    assert suite.expectation("table_not_empty").severity == "error"
    # Raw data is dirty by design: everything else only warns.
    structural = {"required_columns_present", "column_types_as_delivered", "table_not_empty",
                  *(f"{k}_not_null" for k in table.primary_key)}
    assert all(e.severity == "warn" for e in suite.expectations if e.id not in structural)
    assert not set(suite.record_key) & set(suite.pii_columns)


def test_a_malformed_suite_names_the_file_and_expectation(tmp_path):
    path = tmp_path / "raw_erp.members.yml"
    path.write_text(
        "suite: raw_erp.members\nrecord_key: [member_id]\nexpectations:\n"
        "  - {id: email_ok, type: expect_column_values_to_match_regex, severity: fatal,\n"
        "     dimension: validity, kwargs: {column: email, regex: x}}\n")
    with pytest.raises(SuiteFileError, match=r"raw_erp.members.yml: expectation #1 \(email_ok\)"):
        load_suite(path)


def test_a_record_key_with_personal_data_is_refused(tmp_path):
    path = tmp_path / "raw_erp.members.yml"
    path.write_text(
        "suite: raw_erp.members\nrecord_key: [email]\nexpectations:\n"
        "  - {id: t, type: table_not_empty, severity: error, dimension: completeness}\n")
    with pytest.raises(SuiteFileError, match="personal data"):
        load_suite(path)
