"""ERP extraction against real SQLite, PostgreSQL and MariaDB databases."""

from __future__ import annotations

import datetime as dt

import pytest

from contracts.sources import source_table, tables_of
from ingest import ingest_sources as src
from ingest.erp_backends import fill, make_backend
from ingest.ingest_sources import query
from warehouse.extract import MissingColumnError, extract

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=BACKENDS)
def erp(request, env, tmp_path, monkeypatch):
    backend = make_backend(request.param, tmp_path)
    if request.param != "sqlite":
        monkeypatch.setenv("CRMW_ERP_URL", backend.url)
    yield backend
    backend.close()




def test_full_load_keeps_values_as_text_with_lineage(erp):
    fill(erp)
    for table in tables_of("erp"):
        result = extract(table)
        assert (result.rows_read, result.rows_loaded) == (3, 3), table.name
        assert result.cursor_value == "2024-03-01 09:30:00"
    types = query("""SELECT DISTINCT data_type FROM duckdb_columns()
                     WHERE schema_name = 'raw_erp' AND NOT column_name LIKE '\\_%' ESCAPE '\\'""")
    assert types == [("VARCHAR",)]
    rows = query("""SELECT order_id, order_total, updated_at, order_ts, _source_system,
                           _source_object, _source_row_number, _batch_id, _extracted_at
                    FROM raw_erp.sales_orders ORDER BY _source_row_number""")
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert rows[0][1] == "3.50"  # the DECIMAL as the ERP renders it, not a float
    assert rows[0][2] == "2024-03-01 09:30:00"
    assert rows[0][3] == "2024-02-29 09:30:00"
    assert {r[4] for r in rows} == {"erp"} and {r[5] for r in rows} == {"sales_orders"}
    assert [r[6] for r in rows] == [1, 2, 3]
    assert len({r[7] for r in rows}) == 1 and rows[0][7].startswith("erp.sales_orders.")
    assert abs(rows[0][8] - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(
        minutes=5)


def test_incremental_cursor_ties_and_new_versions(erp):
    fill(erp)
    members = source_table("erp", "members")
    assert extract(members).rows_loaded == 3
    again = extract(members)
    assert again.rows_loaded == 0 and again.cursor_value == "2024-03-01 09:30:00"

    # a row written later but stamped with the cursor's own timestamp (a tie), and a new
    # version of member 2: exactly these two load, and only once
    later = src.BASE_TS + dt.timedelta(hours=1)
    erp.insert("members", src.erp_rows(members, [4], src.BASE_TS)
               + src.erp_rows(members, [2], later))
    result = extract(members)
    assert result.rows_loaded == 2
    assert result.cursor_value == "2024-03-01 10:30:00"
    assert extract(members).rows_loaded == 0
    versions = query("""SELECT member_id, count(*) FROM raw_erp.members
                        GROUP BY ALL ORDER BY member_id""")
    assert versions == [("1", 1), ("2", 2), ("3", 1), ("4", 1)]
    cursor = query("SELECT cursor_value FROM raw_meta.erp_cursors WHERE source_table='members'")
    assert cursor == [("2024-03-01 10:30:00",)]


def test_new_source_column_is_kept_and_missing_required_column_fails(erp):
    fill(erp)
    stores = source_table("erp", "stores")
    extract(stores)
    erp.execute("ALTER TABLE stores ADD COLUMN region VARCHAR(20)")
    erp.execute(
        "INSERT INTO stores (store_id, store_name, updated_at, region) "
        "VALUES ('STO-00009', 'New', '2024-03-02 09:30:00', 'north')"
    )
    result = extract(stores)
    assert result.rows_loaded == 1 and result.added_columns == ["region"]
    assert query("SELECT store_id, region FROM raw_erp.stores ORDER BY store_id") == [
        ("STO-00001", None), ("STO-00002", None), ("STO-00003", None), ("STO-00009", "north")]

    members = source_table("erp", "members")
    assert extract(members).rows_loaded == 3
    erp.execute("ALTER TABLE members DROP COLUMN member_no")
    erp.execute("UPDATE members SET updated_at = '2024-03-05 00:00:00' WHERE member_id = 1")
    with pytest.raises(MissingColumnError, match=r"ERP table 'members'.*'member_no'"):
        extract(members)
    # the failed batch loaded nothing and is recorded with its error
    assert query("SELECT count(*) FROM raw_erp.members") == [(3,)]
    failed = query("""SELECT status, error FROM raw_meta.batches
                      WHERE source_table = 'members' ORDER BY started_at DESC LIMIT 1""")
    assert failed[0][0] == "failed" and "member_no" in failed[0][1]
