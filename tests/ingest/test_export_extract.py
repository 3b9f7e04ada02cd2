"""E-commerce JSON-lines and service-desk CSV extraction: load-once, drift, bad lines."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil

import pytest

from contracts.sources import source_table
from ingest import ingest_sources as src
from ingest.ingest_sources import query
from warehouse.extract import MissingColumnError, UnreadableFileError, extract

DAY1, DAY2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)




def test_jsonl_values_lineage_and_nested_json(env):
    orders = source_table("ecommerce", "orders")
    records = src.export_records(orders, 4, DAY1)
    src.write_jsonl(src.export_path(env.ecommerce_dir, orders, DAY1), records)
    result = extract(orders)
    assert (result.rows_read, result.rows_loaded, result.files_loaded) == (
        4, 4, ["orders/orders_2024-03-01.jsonl.gz"])
    rows = query("""SELECT order_id, items, total_amount, ordered_at, _source_system,
                           _source_object, _source_row_number
                    FROM raw_ecommerce.orders ORDER BY _source_row_number""")
    assert [r[0] for r in rows] == [r["order_id"] for r in records]
    assert json.loads(rows[0][1]) == records[0]["items"]  # nested JSON kept as JSON text
    assert rows[0][2] == "11.25" and rows[0][3] == "2024-03-01T08:01:00Z"
    assert {(r[4], r[5]) for r in rows} == {("ecommerce", "orders/orders_2024-03-01.jsonl.gz")}
    assert [r[6] for r in rows] == [1, 2, 3, 4]


def test_csv_values_multiline_fields_and_row_numbers(env):
    tickets = source_table("service_desk", "tickets")
    records = src.export_records(tickets, 3, DAY1)
    records[1]["subject"] = 'Parcel "damaged",\nsecond line'
    records[2]["order_ref"] = None
    src.write_csv(src.export_path(env.service_desk_dir, tickets, DAY1), records)
    assert extract(tickets).rows_loaded == 3
    rows = query("""SELECT ticket_id, subject, order_ref, created_at, _source_row_number,
                           _source_object FROM raw_service.tickets ORDER BY _source_row_number""")
    assert [r[0] for r in rows] == [r["ticket_id"] for r in records]
    assert rows[1][1] == 'Parcel "damaged",\nsecond line'
    assert rows[2][2] is None  # an empty field is NULL
    assert rows[0][3] == "2024-03-01 08:01:00"
    assert [r[4] for r in rows] == [1, 2, 3]
    assert rows[0][5] == "tickets/tickets_2024-03-01.csv"


@pytest.mark.parametrize("system, name", [("ecommerce", "events"), ("service_desk", "surveys")])
def test_incremental_new_files_only_and_duplicate_delivery(env, system, name):
    table = source_table(system, name)
    root = env.ecommerce_dir if system == "ecommerce" else env.service_desk_dir
    write = src.write_jsonl if system == "ecommerce" else src.write_csv
    first = write(src.export_path(root, table, DAY1), src.export_records(table, 5, DAY1))
    assert extract(table).rows_loaded == 5
    again = extract(table)
    assert (again.rows_loaded, again.files_loaded, again.files_skipped) == (0, [], [])

    write(src.export_path(root, table, DAY2), src.export_records(table, 2, DAY2))
    resent = src.export_path(root, table, DAY2, suffix="resent")
    shutil.copy(first, resent)  # the same bytes delivered again under another name
    result = extract(table)
    assert result.rows_loaded == 2
    assert result.files_skipped == [resent.relative_to(root).as_posix()]
    assert extract(table).files_skipped == []  # the duplicate is recorded once
    raw = table.qualified_raw_name
    assert query(f"SELECT count(*), count(DISTINCT _source_object) FROM {raw}") == [(7, 2)]
    skipped = query("SELECT file_path, duplicate_of FROM raw_meta.skipped_files")
    assert skipped == [(resent.relative_to(root).as_posix(), first.relative_to(root).as_posix())]
    assert query("SELECT count(*) FROM raw_meta.loaded_files") == [(2,)]


def test_new_column_kept_and_missing_required_column_names_file(env):
    reviews = source_table("ecommerce", "reviews")
    src.write_jsonl(src.export_path(env.ecommerce_dir, reviews, DAY1),
                    src.export_records(reviews, 2, DAY1))
    extract(reviews)
    drifted = src.export_records(reviews, 2, DAY2)
    drifted[1]["verified_buyer"] = True  # appears only on the last line of the file
    src.write_jsonl(src.export_path(env.ecommerce_dir, reviews, DAY2), drifted)
    result = extract(reviews)
    assert result.added_columns == ["verified_buyer"]
    assert query("SELECT verified_buyer FROM raw_ecommerce.reviews ORDER BY _source_object, "
                 "_source_row_number") == [(None,), (None,), (None,), ("true",)]

    contacts = source_table("service_desk", "contacts")
    records = [{k: v for k, v in r.items() if k != "created_at"}
               for r in src.export_records(contacts, 2, DAY1)]
    src.write_csv(src.export_path(env.service_desk_dir, contacts, DAY1), records)
    with pytest.raises(MissingColumnError) as err:
        extract(contacts)
    assert "contacts/contacts_2024-03-01.csv" in str(err.value)
    assert "'created_at'" in str(err.value)
    assert query("SELECT count(*) FROM raw_meta.loaded_files WHERE source_table='contacts'") == [
        (0,)]


def test_malformed_jsonl_line_is_quarantined_and_good_rows_load(env):
    events = source_table("ecommerce", "events")
    records = src.export_records(events, 4, DAY1)
    path = src.write_jsonl(src.export_path(env.ecommerce_dir, events, DAY1), records,
                           extra_lines={3: '{"event_id": "broken", ', 5: "[1, 2]"})
    result = extract(events)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 4, 2)
    where = [q.location() for q in result.quarantined]
    assert where == ["events/events_2024-03-01.jsonl.gz:3", "events/events_2024-03-01.jsonl.gz:5"]
    quarantined = query("""SELECT file_path, line_number, reason, raw_text
                           FROM raw_meta.quarantined_lines ORDER BY line_number""")
    assert quarantined[0][:2] == ("events/events_2024-03-01.jsonl.gz", 3)
    assert quarantined[0][2].startswith("invalid JSON") and quarantined[0][3] == (
        '{"event_id": "broken", ')
    assert quarantined[1][2].startswith("not a JSON object")
    # good rows keep their record numbers: lines 1, 2, 4, 6 of the file
    assert query("SELECT event_id, _source_row_number FROM raw_ecommerce.events ORDER BY 2") == [
        (r["event_id"], n) for r, n in zip(records, [1, 2, 4, 6], strict=True)]
    assert path.exists() and extract(events).rows_quarantined == 0  # not re-quarantined


def test_wrong_csv_field_count_is_quarantined_with_line(env):
    surveys = source_table("service_desk", "surveys")
    path = src.write_csv(src.export_path(env.service_desk_dir, surveys, DAY1),
                         src.export_records(surveys, 3, DAY1))
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(2, "SU-bad,only,three\n")  # becomes line 3 of the file
    path.write_text("".join(lines))
    result = extract(surveys)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    q = result.quarantined[0]
    assert q.location() == "surveys/surveys_2024-03-01.csv:3"
    assert q.raw_text == "SU-bad,only,three" and "found 3" in q.reason
    assert query("SELECT _source_row_number FROM raw_service.surveys ORDER BY 1") == [
        (1,), (3,), (4,)]


def test_corrupt_gzip_fails_the_whole_batch_naming_the_file(env):
    sessions = source_table("ecommerce", "sessions")
    src.write_jsonl(src.export_path(env.ecommerce_dir, sessions, DAY1),
                    src.export_records(sessions, 3, DAY1))
    bad = src.export_path(env.ecommerce_dir, sessions, DAY2)
    src.write_jsonl(bad, src.export_records(sessions, 3, DAY2))
    bad.write_bytes(bad.read_bytes()[:-20])  # truncated archive
    with pytest.raises(UnreadableFileError, match="sessions/sessions_2024-03-02.jsonl.gz"):
        extract(sessions)
    # nothing of the batch was kept, not even the good first file
    assert query("SELECT count(*) FROM raw_meta.loaded_files") == [(0,)]
    assert query("""SELECT count(*) FROM duckdb_tables()
                    WHERE schema_name = 'raw_ecommerce'""") == [(0,)]
    bad.unlink()
    assert extract(sessions).rows_loaded == 3  # fixed delivery: loads on re-run


@pytest.mark.slow
def test_bulk_reader_row_numbers_follow_file_order(env):
    """DuckDB's readers run in parallel; _source_row_number must still be the file order."""
    events = source_table("ecommerce", "events")
    tickets = source_table("service_desk", "tickets")
    n = 60_000
    src.write_jsonl(src.export_path(env.ecommerce_dir, events, DAY1),
                    src.export_records(events, n, DAY1))
    src.write_csv(src.export_path(env.service_desk_dir, tickets, DAY1),
                  src.export_records(tickets, n, DAY1))
    assert extract(events).rows_loaded == n and extract(tickets).rows_loaded == n
    for raw, key in (("raw_ecommerce.events", "event_id"), ("raw_service.tickets", "ticket_id")):
        mismatches = query(f"""SELECT count(*) FROM {raw}
                               WHERE CAST(right({key}, 6) AS INTEGER) <> _source_row_number""")
        assert mismatches == [(0,)], raw


def test_plain_gzip_text_is_read(env):
    """Sanity: the fixture writer really produces gzip (the bulk path reads compressed)."""
    customers = source_table("ecommerce", "customers")
    path = src.write_jsonl(src.export_path(env.ecommerce_dir, customers, DAY1),
                           src.export_records(customers, 1, DAY1))
    with gzip.open(path, "rt") as fh:
        assert json.loads(fh.readline())["customer_id"].startswith("CU")
    assert extract(customers).rows_loaded == 1


def test_clean_files_use_duckdb_bulk_readers_and_both_paths_agree(env):
    """The bulk readers handle clean files; the line-by-line fallback renders the same text."""
    import duckdb as ddb

    from warehouse.extract import csvfile, jsonl

    orders = source_table("ecommerce", "orders")
    path = src.write_jsonl(src.export_path(env.ecommerce_dir, orders, DAY1),
                           src.export_records(orders, 50, DAY1))
    bulk = jsonl.parse_jsonl(path, "orders.jsonl.gz")
    assert bulk.parser == "duckdb" and bulk.rows_read == 50
    with ddb.connect() as mem:
        fallback = jsonl._parse_lines(mem, path, "orders.jsonl.gz")
    assert fallback.parser == "python"
    assert bulk.rows.select(sorted(bulk.rows.column_names)).equals(
        fallback.rows.select(sorted(fallback.rows.column_names)))

    tickets = source_table("service_desk", "tickets")
    records = src.export_records(tickets, 50, DAY1)
    records[3]["subject"] = 'quoted "text", with\nline break'
    csv_path = src.write_csv(src.export_path(env.service_desk_dir, tickets, DAY1), records)
    bulk = csvfile.parse_csv(csv_path, "tickets.csv")
    assert bulk.parser == "duckdb" and bulk.rows_read == 50
    fallback = csvfile._parse_python(csv_path, "tickets.csv", csvfile.read_header(csv_path, "x"))
    assert bulk.rows.equals(fallback.rows)


def test_empty_files_are_recorded_empty_and_never_pass_for_a_duplicate(env):
    """Zero-byte, empty-gzip and header-only files load no row and are marked empty in
    raw_meta.loaded_files (and the batch names them for the WARN check); two blank files of
    different days are two empty deliveries, not one file and a re-delivery; a re-run records
    nothing twice, and a complete file delivered later loads."""
    events = source_table("ecommerce", "events")
    tickets = source_table("service_desk", "tickets")
    zero = src.export_path(env.ecommerce_dir, events, DAY1)
    zero.write_bytes(b"")
    empty_gzip = src.export_path(env.ecommerce_dir, events, DAY2)
    empty_gzip.write_bytes(gzip.compress(b"", mtime=0))
    blank_lines = src.export_path(env.ecommerce_dir, events, DAY2, suffix="blank")
    blank_lines.write_bytes(gzip.compress(b"\n \n", mtime=0))
    zero_again = src.export_path(env.ecommerce_dir, events, DAY2, suffix="zero")
    zero_again.write_bytes(b"")  # the same (no) bytes as the first: not a duplicate
    src.write_jsonl(src.export_path(env.ecommerce_dir, events, DAY2, suffix="real"),
                    src.export_records(events, 2, DAY2))
    header_only = src.export_path(env.service_desk_dir, tickets, DAY1)
    src.write_csv(header_only, [], header=[c.name for c in tickets.columns])
    zero_csv = src.export_path(env.service_desk_dir, tickets, DAY2)
    zero_csv.write_bytes(b"")

    result = extract(events)
    rel = lambda p, root: p.relative_to(root).as_posix()  # noqa: E731
    expected_empty = sorted(rel(p, env.ecommerce_dir)
                            for p in (zero, empty_gzip, blank_lines, zero_again))
    assert (result.rows_loaded, result.files_skipped) == (2, [])
    assert sorted(result.files_empty) == expected_empty
    assert len(result.files_loaded) == 5
    result = extract(tickets)
    assert sorted(result.files_empty) == sorted(
        rel(p, env.service_desk_dir) for p in (header_only, zero_csv))
    rows = query("""SELECT file_path, file_bytes, rows_read, is_empty FROM raw_meta.loaded_files
                    ORDER BY file_path""")
    assert [(r[0], r[3]) for r in rows] == [
        ("events/events_2024-03-01.jsonl.gz", True), ("events/events_2024-03-02.jsonl.gz", True),
        ("events/events_2024-03-02_blank.jsonl.gz", True),
        ("events/events_2024-03-02_real.jsonl.gz", False),
        ("events/events_2024-03-02_zero.jsonl.gz", True),
        ("tickets/tickets_2024-03-01.csv", True), ("tickets/tickets_2024-03-02.csv", True)]
    assert all(r[2] == 0 for r in rows if r[3]) and rows[0][1] == 0
    assert query("SELECT count(*) FROM raw_meta.skipped_files") == [(0,)]

    again = extract(events)  # nothing new: the blank files are known by name and bytes
    assert (again.files_loaded, again.files_empty, again.files_skipped) == ([], [], [])
    src.write_jsonl(zero, src.export_records(events, 3, DAY1, start=10))  # the full transfer
    redelivered = extract(events)
    assert (redelivered.rows_loaded, redelivered.files_empty) == (3, [])
    assert query("""SELECT count(*), count(*) FILTER (WHERE is_empty) FROM raw_meta.loaded_files
                    WHERE source_table = 'events'""") == [(6, 4)]


def test_loaded_files_of_an_older_warehouse_get_the_empty_flag(env):
    """A warehouse whose raw_meta.loaded_files predates is_empty gets the column, its empty
    files marked, at the next extraction."""
    import duckdb

    env.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(env.warehouse_path)) as con:
        con.execute("CREATE SCHEMA raw_meta")
        con.execute("""CREATE TABLE raw_meta.loaded_files (sha256 VARCHAR NOT NULL,
            source_system VARCHAR NOT NULL, source_table VARCHAR NOT NULL,
            file_path VARCHAR NOT NULL, file_bytes BIGINT NOT NULL, rows_read BIGINT NOT NULL,
            rows_loaded BIGINT NOT NULL, rows_quarantined BIGINT NOT NULL,
            batch_id VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL)""")
        con.execute("""INSERT INTO raw_meta.loaded_files VALUES
            ('e3b0', 'service_desk', 'surveys', 'surveys/surveys_2024-02-01.csv', 0, 0, 0, 0,
             'b0', '2024-02-01'),
            ('abcd', 'service_desk', 'surveys', 'surveys/surveys_2024-02-02.csv', 90, 1, 1, 0,
             'b0', '2024-02-02')""")
    surveys = source_table("service_desk", "surveys")
    src.write_csv(src.export_path(env.service_desk_dir, surveys, DAY1),
                  src.export_records(surveys, 2, DAY1))
    assert extract(surveys).rows_loaded == 2
    assert query("""SELECT file_path, is_empty FROM raw_meta.loaded_files
                    ORDER BY file_path""") == [
        ("surveys/surveys_2024-02-01.csv", True), ("surveys/surveys_2024-02-02.csv", False),
        ("surveys/surveys_2024-03-01.csv", False)]
