"""Export files are read several at a time: per-file results must be what one-by-one gave.

A chunk of new files is read by one DuckDB call; a file DuckDB refuses is found by splitting
the chunk, and only that file is parsed line by line. These tests put the awkward file in the
middle of a multi-file batch and check every other file still loads with its own lineage.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from contracts.sources import source_table
from ingest import ingest_sources as src
from ingest.ingest_sources import query
from warehouse.extract import MissingColumnError, UnreadableFileError, extract
from warehouse.extract.files import CHUNK_MB_ENV, chunk_limit_bytes, chunked, discover

DAYS = [dt.date(2024, 3, d) for d in range(1, 6)]




def rel(table, day, ext):
    return f"{table.name}/{table.name}_{day.isoformat()}{ext}"


@pytest.fixture(params=["one chunk", "chunk per file"])
def chunking(request, monkeypatch):
    """Run each test with all files in one chunk, and with a cap that splits every file."""
    if request.param == "chunk per file":
        monkeypatch.setenv(CHUNK_MB_ENV, "0.000001")
    else:
        monkeypatch.delenv(CHUNK_MB_ENV, raising=False)
    return request.param


def test_bad_jsonl_lines_in_one_file_of_a_batch(env, chunking):
    events = source_table("ecommerce", "events")
    written = {}
    for n, day in enumerate(DAYS, start=3):
        records = src.export_records(events, n, day)
        extra = {}
        if day == DAYS[2]:
            extra = {2: '{"event_id": "broken", ', 4: '"just a string"'}
        src.write_jsonl(src.export_path(env.ecommerce_dir, events, day), records,
                        extra_lines=extra)
        written[day] = records
    # a line that is not valid UTF-8 in the fourth file
    bad_utf8 = src.export_path(env.ecommerce_dir, events, DAYS[3])
    lines = [json.dumps(r).encode() for r in written[DAYS[3]]]
    lines.insert(2, b'{"event_id": "EV\xff\xfe"}')
    with gzip.open(bad_utf8, "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")

    result = extract(events)
    good = sum(len(r) for r in written.values())
    assert (result.rows_loaded, result.rows_quarantined, result.rows_read) == (good, 3, good + 3)
    assert [q.location() for q in result.quarantined] == [
        rel(events, DAYS[2], ".jsonl.gz:2"), rel(events, DAYS[2], ".jsonl.gz:4"),
        rel(events, DAYS[3], ".jsonl.gz:3")]
    assert result.quarantined[1].reason.startswith("not a JSON object")
    assert result.quarantined[2].reason.startswith("invalid UTF-8")
    assert query("""SELECT file_path, line_number, raw_text FROM raw_meta.quarantined_lines
                    ORDER BY file_path, line_number""")[0] == (
        rel(events, DAYS[2], ".jsonl.gz"), 2, '{"event_id": "broken", ')
    # every good row has its own file and its record number within that file
    rows = query("""SELECT _source_object, _source_row_number, event_id
                    FROM raw_ecommerce.events ORDER BY _source_object, _source_row_number""")
    expected = []
    for day, records in written.items():
        numbers = list(range(1, len(records) + 1))
        if day == DAYS[2]:
            numbers = [1, 3, 5, 6, 7][: len(records)]
        if day == DAYS[3]:
            numbers = [1, 2, 4, 5, 6, 7, 8][: len(records)]
        expected += [(rel(events, day, ".jsonl.gz"), n, r["event_id"])
                     for n, r in zip(numbers, records, strict=True)]
    assert rows == expected
    files = query("""SELECT file_path, rows_read, rows_loaded, rows_quarantined
                     FROM raw_meta.loaded_files ORDER BY file_path""")
    assert files == [(rel(events, d, ".jsonl.gz"), len(written[d]) + q, len(written[d]), q)
                     for d, q in zip(DAYS, [0, 0, 2, 1, 0], strict=True)]
    assert extract(events).rows_loaded == 0  # nothing is new on a re-run


def test_wrong_field_count_in_one_csv_of_a_batch(env, chunking):
    surveys = source_table("service_desk", "surveys")
    written = {}
    for day in DAYS:
        written[day] = src.export_records(surveys, 3, day)
        src.write_csv(src.export_path(env.service_desk_dir, surveys, day), written[day])
    bad = src.export_path(env.service_desk_dir, surveys, DAYS[1])
    lines = bad.read_text().splitlines(keepends=True)
    lines.insert(3, "SU-bad,only,three\n")  # line 4 of the second file
    bad.write_text("".join(lines))

    result = extract(surveys)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (16, 15, 1)
    assert [q.location() for q in result.quarantined] == [rel(surveys, DAYS[1], ".csv:4")]
    assert result.quarantined[0].raw_text == "SU-bad,only,three"
    rows = query("""SELECT _source_object, _source_row_number, response_id
                    FROM raw_service.surveys ORDER BY 1, 2""")
    expected = []
    for day, records in written.items():
        numbers = [1, 2, 4] if day == DAYS[1] else [1, 2, 3]
        expected += [(rel(surveys, day, ".csv"), n, r["response_id"])
                     for n, r in zip(numbers, records, strict=True)]
    assert rows == expected
    assert query("""SELECT rows_read, rows_loaded, rows_quarantined FROM raw_meta.loaded_files
                    WHERE file_path = ?""", [rel(surveys, DAYS[1], ".csv")]) == [(4, 3, 1)]


def test_drift_across_files_and_csv_headers_that_differ(env, chunking):
    reviews = source_table("ecommerce", "reviews")
    for i, day in enumerate(DAYS[:3]):
        records = src.export_records(reviews, 2, day)
        if i == 1:
            records[1]["verified_buyer"] = True  # only on the last line of the middle file
        src.write_jsonl(src.export_path(env.ecommerce_dir, reviews, day), records)
    result = extract(reviews)
    assert result.added_columns == ["verified_buyer"] and result.rows_loaded == 6
    assert query("""SELECT _source_object, _source_row_number FROM raw_ecommerce.reviews
                    WHERE verified_buyer = 'true'""") == [(rel(reviews, DAYS[1], ".jsonl.gz"), 2)]

    tickets = source_table("service_desk", "tickets")
    for i, day in enumerate(DAYS[:3]):
        records = src.export_records(tickets, 2, day)
        header = list(records[0]) + (["escalation_team"] if i == 2 else [])
        if i == 2:
            for r in records:
                r["escalation_team"] = "tier2"
        src.write_csv(src.export_path(env.service_desk_dir, tickets, day), records, header)
    result = extract(tickets)
    assert result.added_columns == ["escalation_team"] and result.rows_loaded == 6
    assert query("""SELECT _source_object, count(escalation_team), count(*) FROM raw_service.tickets
                    GROUP BY 1 ORDER BY 1""") == [
        (rel(tickets, DAYS[0], ".csv"), 0, 2), (rel(tickets, DAYS[1], ".csv"), 0, 2),
        (rel(tickets, DAYS[2], ".csv"), 2, 2)]


def test_missing_required_column_in_a_later_file_fails_the_batch(env, chunking):
    orders = source_table("ecommerce", "orders")
    for i, day in enumerate(DAYS[:3]):
        records = src.export_records(orders, 2, day)
        if i == 1:
            records = [{k: v for k, v in r.items() if k != "customer_id"} for r in records]
        src.write_jsonl(src.export_path(env.ecommerce_dir, orders, day), records)
    with pytest.raises(MissingColumnError) as err:
        extract(orders)
    assert rel(orders, DAYS[1], ".jsonl.gz") in str(err.value) and "'customer_id'" in str(err.value)
    assert query("SELECT count(*) FROM raw_meta.loaded_files") == [(0,)]
    assert query("SELECT status FROM raw_meta.batches") == [("failed",)]


def test_corrupt_gzip_in_the_middle_of_a_batch_names_the_file(env, chunking):
    sessions = source_table("ecommerce", "sessions")
    for day in DAYS:
        src.write_jsonl(src.export_path(env.ecommerce_dir, sessions, day),
                        src.export_records(sessions, 3, day))
    bad = src.export_path(env.ecommerce_dir, sessions, DAYS[2])
    bad.write_bytes(bad.read_bytes()[:-20])
    with pytest.raises(UnreadableFileError, match=rel(sessions, DAYS[2], ".jsonl.gz")):
        extract(sessions)
    assert query("SELECT count(*) FROM raw_meta.loaded_files") == [(0,)]
    bad.unlink()
    assert extract(sessions).rows_loaded == 12


def test_same_bytes_twice_in_one_batch_loads_once(env, chunking):
    contacts = source_table("service_desk", "contacts")
    first = src.write_csv(src.export_path(env.service_desk_dir, contacts, DAYS[0]),
                          src.export_records(contacts, 4, DAYS[0]))
    copy = src.export_path(env.service_desk_dir, contacts, DAYS[0], suffix="resent")
    copy.write_bytes(first.read_bytes())
    src.write_csv(src.export_path(env.service_desk_dir, contacts, DAYS[1]),
                  src.export_records(contacts, 1, DAYS[1]))
    result = extract(contacts)
    assert result.rows_loaded == 5 and len(result.files_loaded) == 2
    assert result.files_skipped == [rel(contacts, DAYS[0], "_resent.csv")]
    assert query("SELECT file_path, duplicate_of FROM raw_meta.skipped_files") == [
        (rel(contacts, DAYS[0], "_resent.csv"), rel(contacts, DAYS[0], ".csv"))]


@pytest.mark.slow
def test_row_numbers_follow_file_order_across_many_files(env):
    """One read of many files: every row keeps its file and its position in that file."""
    events = source_table("ecommerce", "events")
    tickets = source_table("service_desk", "tickets")
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(12)]
    for i, day in enumerate(days):
        n = 4_000 + 997 * i
        src.write_jsonl(src.export_path(env.ecommerce_dir, events, day),
                        src.export_records(events, n, day))
        src.write_csv(src.export_path(env.service_desk_dir, tickets, day),
                      src.export_records(tickets, n, day))
    assert extract(events).rows_loaded == extract(tickets).rows_loaded == sum(
        4_000 + 997 * i for i in range(12))
    for raw, key in (("raw_ecommerce.events", "event_id"), ("raw_service.tickets", "ticket_id")):
        mismatches = query(f"""SELECT count(*) FROM {raw}
                               WHERE CAST(right({key}, 6) AS INTEGER) <> _source_row_number
                                  OR substr({key}, 3, 4) <> replace(regexp_extract(
                                         _source_object, '(\\d\\d-\\d\\d)\\.', 1), '-', '')""")
        assert mismatches == [(0,)], raw


def test_chunks_are_capped_by_bytes_in_name_order(env, monkeypatch):
    events = source_table("ecommerce", "events")
    for day in DAYS:
        src.write_jsonl(src.export_path(env.ecommerce_dir, events, day),
                        src.export_records(events, 50, day))
    files = discover(env.ecommerce_dir, "ecommerce", "events")
    assert [len(c) for c in chunked(files, 10**12)] == [5]
    assert [len(c) for c in chunked(files, 1)] == [1] * 5  # a file over the cap: on its own
    per_file = files[0].size * 8
    assert [len(c) for c in chunked(files, 2 * per_file + 1)] in ([2, 2, 1], [2, 1, 2], [1, 2, 2])
    assert [d for c in chunked(files, 2 * per_file + 1) for d in c] == files
    monkeypatch.setenv(CHUNK_MB_ENV, "1.5")
    assert chunk_limit_bytes() == int(1.5 * 2**20)
    monkeypatch.setenv(CHUNK_MB_ENV, "lots")
    with pytest.raises(ValueError, match=CHUNK_MB_ENV):
        chunk_limit_bytes()


def test_repeated_key_in_one_file_of_a_batch_is_read_as_before(env, chunking):
    """The key scan accepts an object with a key twice, read_json refuses it: that file alone
    takes the one-file path (as before batching: the first value is kept), the others load in
    bulk, and the batch's transaction never sees a failed statement."""
    orders = source_table("ecommerce", "orders")
    for day in DAYS[:3]:
        src.write_jsonl(src.export_path(env.ecommerce_dir, orders, day),
                        src.export_records(orders, 2, day),
                        extra_lines={2: '{"order_id": "A", "order_id": "B"}'}
                        if day == DAYS[1] else None)
    result = extract(orders)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (7, 7, 0)
    assert query("""SELECT order_id, _source_row_number FROM raw_ecommerce.orders
                    WHERE _source_object = ? ORDER BY 2""", [rel(orders, DAYS[1], ".jsonl.gz")]
                 ) == [("OR0302000001", 1), ("A", 2), ("OR0302000002", 3)]
    assert query("SELECT status FROM raw_meta.batches") == [("succeeded",)]
