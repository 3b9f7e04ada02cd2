"""What stewards see: no PII anywhere, scorecard direction, rejected rows, text report, docs."""

import shutil
import struct
import subprocess
import zlib

import duckdb
import pytest
from quality_fixtures import BAD_EMAIL, outcome, run_suites

from expectations.report import latest_results_text
from expectations.results import build_rejected_rows, latest_scorecard

PII_SUITES = ("raw_erp.members", "raw_ecommerce.customers", "raw_service.contacts")


def _sql(path, *statements):
    con = duckdb.connect(str(path))
    for s in statements:
        con.execute(s)
    con.close()


def test_no_personal_data_in_any_quality_artifact(warehouse, suites):
    phone = "+1 (555) 867-5309 ext PRIVATE"
    _sql(warehouse,
         f"update raw_erp.members set email = '{BAD_EMAIL}', phone = '{phone}' "
         "where member_id::int <= 40",
         f"update raw_ecommerce.customers set email = '{BAD_EMAIL}' where customer_id < 'C0000030'",
         f"update raw_service.contacts set email = '{BAD_EMAIL}' where contact_id < 'SD-000030'")
    runs = run_suites(warehouse, [suites[n] for n in PII_SUITES], "pii")
    members = runs[0]
    email = outcome(members, "email_format")
    assert not email.success and email.unexpected_count == 40  # the defect was found
    assert {k["member_id"] for k in email.failing_record_keys} <= {str(i) for i in range(1, 41)}
    # Every generated file: Data Docs (HTML, JS, JSON) and the GX project's stored results.
    leaks = []
    for path in warehouse.parent.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            text = path.read_bytes()
            if BAD_EMAIL.encode() in text or b"867-5309" in text:
                leaks.append(str(path))
    assert not leaks
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select * from quality.check_results").fetchall()
    con.close()
    assert not [r for r in rows if BAD_EMAIL in repr(r) or "867-5309" in repr(r)]
    assert (warehouse.parent / "data_docs" / "index.html").exists()


def _scores(path):
    con = duckdb.connect(str(path), read_only=True)
    rows = {(r[0], r[1]): r for r in latest_scorecard(con)}
    con.close()
    return rows


def test_scorecard_falls_as_defect_rates_rise(warehouse, suites):
    suite = suites["raw_erp.members"]
    overall, validity = [], []
    for run_id, rate in (("r0", 0), ("r1", 10), ("r2", 40)):
        if rate:
            _sql(warehouse,
                 f"update raw_erp.members set email = 'x', country_code = 'usa' "
                 f"where member_id::int % 100 < {rate}")
        run_suites(warehouse, [suite], run_id)
        row = _scores(warehouse)[("erp", "members")]
        validity.append(row[3])
        overall.append(row[7])
    assert validity[0] == 100.0 and validity[0] > validity[1] > validity[2]
    assert overall[0] > overall[1] > overall[2]
    con = duckdb.connect(str(warehouse), read_only=True)
    trend = con.execute("select trend from quality.scorecard where table_name = 'members' "
                        "order by checked_at").fetchall()
    con.close()
    assert [t for (t,) in trend] == ["first run", "worsening", "worsening"]


def test_rejected_rows_list_reasons_without_personal_data(warehouse):
    _sql(warehouse,
         "create schema staging",
         "create table staging.stg_erp__members_rejected as select 'INVALID_EMAIL' as "
         "_reject_reason, member_id, to_json(m) as _raw_record, _source_system, _source_object, "
         "_source_row_number, _batch_id, _extracted_at from raw_erp.members m limit 7",
         "create table staging.stg_service_desk__tickets_rejected as select "
         "'MISSING_CONTACT' as _reject_reason, ticket_id, _source_system, _source_object, "
         "_source_row_number, _batch_id from raw_service.tickets limit 3",
         "create table staging.stg_erp__members as select 1 as not_a_reject_table")
    con = duckdb.connect(str(warehouse))
    n = build_rejected_rows(con)
    rows = con.execute("select rejected_table, source, entity, reason, count(*), "
                       "count(record_id) from quality.rejected_rows group by all "
                       "order by 1").fetchall()
    cols = [c[0] for c in con.execute("describe quality.rejected_rows").fetchall()]
    n_again = build_rejected_rows(con)  # idempotent
    con.close()
    assert n == n_again == 10
    assert rows == [("stg_erp__members_rejected", "erp", "members", "INVALID_EMAIL", 7, 7),
                    ("stg_service_desk__tickets_rejected", "service_desk", "tickets",
                     "MISSING_CONTACT", 3, 3)]
    assert "_raw_record" not in cols and "email" not in cols


def test_text_report_lists_tables_failures_and_docs(warehouse, suites):
    assert "No quality results" in latest_results_text(warehouse)
    _sql(warehouse, "update raw_erp.members set member_id = null where member_id = '9'")
    run_suites(warehouse, [suites["raw_erp.members"], suites["raw_erp.stores"]], "r")
    text = latest_results_text(warehouse)
    assert "raw_erp.members" in text and "raw_erp.stores" in text
    assert "member_id_not_null [error]" in text
    assert str(warehouse.parent / "data_docs" / "index.html") in text


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium is not installed (apt-get install -y chromium)")
def test_data_docs_open_offline_in_headless_chromium(warehouse, suites, tmp_path):
    run_suites(warehouse, [suites["raw_erp.members"]], "docs")
    docs = warehouse.parent / "data_docs"
    pages = list((docs / "validations").rglob("*.html"))
    assert pages
    for page in [docs / "index.html", *pages]:
        html = page.read_text()
        assert 'src="http' not in html and 'href="https://cdn' not in html
        assert "data-crmw-offline" in html
    assert "raw_erp.members" in (docs / "index.html").read_text()
    shots = []
    for page in (docs / "index.html", pages[0]):
        shot = tmp_path / f"{page.stem}.png"
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--window-size=1280,1000", f"--screenshot={shot}", page.as_uri()],
            check=True, capture_output=True, timeout=120)
        shots.append(shot)
    for shot in shots:
        width, height, distinct = _png_summary(shot)
        assert (width, height) == (1280, 1000) and distinct > 20  # not a blank page


def _png_summary(path):
    """Width, height and the number of distinct byte values of the decoded pixel rows."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))
