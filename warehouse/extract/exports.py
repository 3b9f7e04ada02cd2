"""Load new export files (e-commerce JSON lines, service-desk CSV) into their raw tables.

Which files are new: every delivered file in name order; a file whose bytes were loaded
before is skipped (a duplicate delivery under another name is recorded once). The new files
of one entity are then read in chunks of several files at once (capped by bytes, see
:func:`warehouse.extract.files.chunked`), not one by one: the per-file cost of a reader (a
connection, a query plan, an insert) dominated when a history is thousands of small daily
files.

A file DuckDB refuses must never fail a statement of the batch's transaction (an error
inside a DuckDB transaction aborts it), so the reads that may fail run in a scratch
in-memory connection (``mem``):

* JSON lines: one key scan over the chunk in ``mem`` (``read_ndjson_objects``: every key of
  every record, per file, and a full parse of every line). If it fails (a malformed line,
  bad UTF-8, an undecompressable file), the chunk is split in halves and each half scanned
  again, down to the single file at fault, which is parsed line by line
  (``jsonl._parse_lines``) so its bad lines are quarantined with file, line number, reason
  and raw text, or which fails the batch naming the file if it cannot be read at all. A file
  with a valid non-object line goes the same way; one with a repeated key is read on its
  own as before. The files the scan accepted are then read by one ``read_json`` (every
  column VARCHAR) straight into the raw table in the batch connection: no copy.
* CSV: files are grouped by identical header row; one ``read_csv`` per group with
  ``store_rejects`` into a scratch table in ``mem``; a file with a rejected row is re-read by
  Python's ``csv`` module (``csvfile._parse_python``) for its physical line numbers. A
  failing read is split the same way. The good rows stream (Arrow record batches) from the
  scratch table into the raw table.

Either way one ``INSERT … BY NAME`` per chunk writes the rows, with ``_source_object`` (the
file's relative path) and ``_source_row_number`` (the record's 1-based position in its own
file) computed in SQL and checked per file against the counts; the
``raw_meta.loaded_files`` rows (rows read / loaded / quarantined per file) come from the same
per-file counts. A required contract column missing from a file fails the batch naming the
file and column; a new column is added to the raw table first (schema drift). The caller
holds one transaction for the whole batch, so a failing file leaves no trace of the batch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from contracts.sources import SourceTable
from warehouse.extract import bookkeeping, csvfile, jsonl
from warehouse.extract.batch import BatchResult, QuarantinedLine
from warehouse.extract.errors import ExtractionError, MissingColumnError
from warehouse.extract.files import Delivery, chunk_limit_bytes, chunked, discover
from warehouse.extract.parsed import ROW_NUMBER, ParsedFile
from warehouse.extract.raw_tables import add_drifted_columns, missing_required, quote

META = bookkeeping.META_SCHEMA
STREAM_ROWS = 500_000  # rows per Arrow record batch from the scratch table to the raw table
# names the batch reader adds next to the delivered columns; a file delivering one of them
# (any case) is read on its own instead
_POS, _IDX = "__crmw_pos", "__crmw_idx"
_RESERVED = {_POS, _IDX, ROW_NUMBER.lower(), "file_index", ""}


@dataclass
class FileResult:
    """What one file contributed: the counts for ``raw_meta.loaded_files``."""

    delivery: Delivery
    rows_read: int = 0
    rows_loaded: int = 0
    quarantined: list[QuarantinedLine] = field(default_factory=list)
    numbered_in_sql: bool = False  # rows numbered by the bulk JSON insert: checked at the end


def extract_export_table(con: duckdb.DuckDBPyConnection, table: SourceTable, export_dir: Path,
                         batch: BatchResult) -> None:
    loaded = bookkeeping.loaded_file_paths_by_sha(con, table.system, table.name)
    loaded_empty = bookkeeping.empty_file_keys(con, table.system, table.name)
    already_skipped = bookkeeping.skipped_file_keys(con, table.system, table.name)
    new: list[Delivery] = []
    for delivery in discover(export_dir, table.system, table.name):
        if delivery.blank:  # known by name and bytes: every blank file has the same bytes
            if (delivery.sha256, delivery.relative_path) not in loaded_empty:
                new.append(delivery)
            continue
        first_path = loaded.get(delivery.sha256)
        if first_path == delivery.relative_path:
            continue  # loaded by an earlier batch: not new
        if first_path is not None:
            if (delivery.sha256, delivery.relative_path) not in already_skipped:
                _record_duplicate(con, table, delivery, first_path, batch)
            continue
        new.append(delivery)
        loaded[delivery.sha256] = delivery.relative_path  # a later copy in this batch: duplicate
    if not new:
        return
    loader = _load_json_chunk if table.system == "ecommerce" else _load_csv_chunk
    to_check: list[FileResult] = []
    mem = duckdb.connect()  # scratch: reads that may fail never run in the batch transaction
    try:
        for chunk in chunked(new, chunk_limit_bytes()):
            by_path = loader(con, mem, table, chunk, batch)
            results = [by_path[d.relative_path] for d in chunk]
            _record_files(con, table, results, batch)
            to_check.extend(r for r in results if r.numbered_in_sql)
    finally:
        mem.close()
    _check_row_numbers(con, table, to_check, batch)


def _check_row_numbers(con, table: SourceTable, results: list[FileResult],
                       batch: BatchResult) -> None:
    """Files numbered by one ``row_number()`` over a multi-file read: each must hold exactly
    its scanned record count, numbered 1..n (one scan of the batch's rows, at the end)."""
    if not results:
        return
    expected = pa.table({"rel": [r.delivery.relative_path for r in results],
                         "n": pa.array([r.rows_loaded for r in results], pa.int64())})
    con.register("_crmw_expected", expected)
    try:
        wrong = con.execute(
            f"""WITH got AS (
                    SELECT _source_object AS rel, count(*) AS c, min({ROW_NUMBER}) AS lo,
                           max({ROW_NUMBER}) AS hi
                    FROM {table.qualified_raw_name} WHERE _batch_id = $batch GROUP BY 1)
                SELECT e.rel, e.n, coalesce(g.c, 0), g.lo, g.hi
                FROM _crmw_expected e LEFT JOIN got g USING (rel)
                WHERE coalesce(g.c, 0) <> e.n OR g.lo <> 1 OR g.hi <> e.n
                ORDER BY e.rel LIMIT 1""",
            {"batch": batch.batch_id},
        ).fetchall()
    finally:
        con.unregister("_crmw_expected")
    if wrong:
        rel, n, got, lo, hi = wrong[0]
        raise ExtractionError(f"{rel}: the key scan counted {n} records, the read gave {got} "
                              f"numbered {lo}..{hi}; row numbers would be wrong")


def _record_duplicate(con, table: SourceTable, delivery: Delivery, first_path: str,
                      batch: BatchResult) -> None:
    con.execute(
        f"INSERT INTO {META}.skipped_files VALUES (?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP)",
        [delivery.sha256, table.system, table.name, delivery.relative_path, first_path,
         "duplicate delivery: same sha256 as a file already loaded", batch.batch_id,
         batch.extracted_at],
    )
    batch.files_skipped.append(delivery.relative_path)


def _record_files(con, table: SourceTable, results: list[FileResult], batch: BatchResult) -> None:
    """``raw_meta.loaded_files`` and quarantined lines of one chunk, in file order."""
    quarantined = [q for r in results for q in r.quarantined]
    if quarantined:
        con.executemany(
            f"INSERT INTO {META}.quarantined_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP)",
            [[table.system, table.name, q.file_path, q.line_number, q.reason, q.raw_text,
              batch.batch_id, batch.extracted_at] for q in quarantined],
        )
    files = pa.table({
        "sha256": [r.delivery.sha256 for r in results],
        "file_path": [r.delivery.relative_path for r in results],
        "file_bytes": pa.array([r.delivery.size for r in results], pa.int64()),
        "rows_read": pa.array([r.rows_read for r in results], pa.int64()),
        "rows_loaded": pa.array([r.rows_loaded for r in results], pa.int64()),
        "rows_quarantined": pa.array([len(r.quarantined) for r in results], pa.int64()),
    })
    con.register("_crmw_loaded_files", files)
    try:
        # a file that delivered no record (0 bytes, an empty gzip, a header only) is loaded
        # and marked empty: a half-transferred file must not look delivered
        con.execute(
            f"""INSERT INTO {META}.loaded_files BY NAME
                SELECT sha256, ? AS source_system, ? AS source_table, file_path, file_bytes,
                       rows_read, rows_loaded, rows_quarantined, ? AS batch_id,
                       ?::TIMESTAMP AS loaded_at, rows_read = 0 AS is_empty
                FROM _crmw_loaded_files""",
            [table.system, table.name, batch.batch_id, batch.extracted_at],
        )
    finally:
        con.unregister("_crmw_loaded_files")
    for r in results:
        batch.rows_read += r.rows_read
        batch.rows_loaded += r.rows_loaded
        batch.quarantined.extend(r.quarantined)
        batch.files_loaded.append(r.delivery.relative_path)
        if r.rows_read == 0:
            batch.files_empty.append(r.delivery.relative_path)


# ------------------------------------------------------------------ shared steps

def _check_and_drift(con, table: SourceTable, files: list[tuple[Delivery, list[str], bool]],
                     batch: BatchResult) -> None:
    """Refuse a file lacking a required column (if it has good rows); add new columns.

    ``files``: (delivery, delivered columns, has good rows), in file order.
    """
    union: dict[str, None] = {}
    for delivery, columns, has_rows in files:
        if has_rows:
            missing = missing_required(table, columns)
            if missing:
                raise MissingColumnError(delivery.relative_path, missing, table.name)
        union.update(dict.fromkeys(columns))
    batch.added_columns.extend(add_drifted_columns(con, table, list(union)))


def _insert_rows(con, table: SourceTable, rows, batch: BatchResult) -> int:
    """Append delivered columns + ``_source_object`` + ``_source_row_number`` (Arrow table or
    record batch reader) to the raw table with the batch's lineage; return the row count."""
    con.register("_crmw_rows", rows)
    try:
        return con.execute(
            f"""INSERT INTO {table.qualified_raw_name} BY NAME
                SELECT *, ? AS _source_system, ? AS _batch_id, ?::TIMESTAMP AS _extracted_at
                FROM _crmw_rows""",
            [table.system, batch.batch_id, batch.extracted_at],
        ).fetchone()[0]
    finally:
        con.unregister("_crmw_rows")


def _load_parsed(con, table: SourceTable, delivery: Delivery, parsed: ParsedFile,
                 batch: BatchResult) -> FileResult:
    """A file read on its own (the fallback): check, drift, insert its Arrow rows."""
    has_rows = parsed.rows_read > len(parsed.quarantined)  # an empty file has no columns
    _check_and_drift(con, table, [(delivery, parsed.columns, has_rows)], batch)
    rows = parsed.rows.append_column(
        "_source_object", pa.array([delivery.relative_path] * parsed.rows.num_rows, pa.string()))
    loaded = _insert_rows(con, table, rows, batch)
    return FileResult(delivery, parsed.rows_read, loaded, list(parsed.quarantined))


def _scratch_spans(mem, group: list[Delivery]) -> dict[int, tuple[int, int]]:
    """{file index: (rows, first position)} of the scratch table ``_crmw_chunk`` (delivered
    columns, ``_IDX`` file index, ``_POS`` position in the read). Row numbers are positions
    within each file: the read preserves file order, and this proves each file contiguous."""
    spans = {}
    for i, n, lo, hi in mem.execute(
            f"SELECT {_IDX}, count(*), min({_POS}), max({_POS}) FROM _crmw_chunk GROUP BY 1"
    ).fetchall():
        if hi - lo + 1 != n:  # never expected: DuckDB preserves insertion order
            raise ExtractionError(f"{group[i].relative_path}: the bulk reader interleaved its "
                                  f"rows with another file's; row numbers would be wrong")
        spans[i] = (n, lo)
    return spans


def _stream_scratch(con, mem, table: SourceTable, group: list[Delivery], keep: list[int],
                    columns: list[str], spans: dict[int, tuple[int, int]],
                    batch: BatchResult) -> None:
    """Move the rows of files ``keep`` (indexes into ``group``) from the scratch table into
    the raw table, as Arrow record batches, in one INSERT."""
    wanted = [i for i in keep if i in spans]
    if not wanted:
        return
    files = pa.table({"idx": pa.array(wanted, pa.int64()),
                      "rel": [group[i].relative_path for i in wanted],
                      "start": pa.array([spans[i][1] for i in wanted], pa.int64())})
    select = ", ".join(f"c.{quote(c)}" for c in columns)
    mem.register("_crmw_files", files)
    try:
        reader = mem.execute(
            f"""SELECT {select}, f.rel AS _source_object,
                       c.{_POS} - f.start + 1 AS {ROW_NUMBER}
                FROM _crmw_chunk c JOIN _crmw_files f ON c.{_IDX} = f.idx"""
        ).to_arrow_reader(STREAM_ROWS)
        loaded = _insert_rows(con, table, reader, batch)
    finally:
        mem.unregister("_crmw_files")
    expected = sum(spans[i][0] for i in wanted)
    if loaded != expected:
        raise ExtractionError(f"{table.qualified_raw_name}: inserted {loaded} rows of "
                              f"{expected} read from {len(wanted)} files")


def _halves(items: list) -> tuple[list, list]:
    mid = len(items) // 2
    return items[:mid], items[mid:]


# ------------------------------------------------------------------ JSON lines

def _load_json_chunk(con, mem, table: SourceTable, chunk: list[Delivery],
                     batch: BatchResult) -> dict[str, FileResult]:
    results: dict[str, FileResult] = {}
    for kind, group, scan in _plan_json(mem, chunk):
        if kind == "bulk":
            results.update(_load_json_bulk(con, mem, table, group, scan, batch))
        else:
            delivery = group[0]
            if kind == "file":
                parsed = jsonl.parse_jsonl(delivery.path, delivery.relative_path, mem)
            else:
                parsed = jsonl._parse_lines(mem, delivery.path, delivery.relative_path)
            results[delivery.relative_path] = _load_parsed(con, table, delivery, parsed, batch)
    return results


def _plan_json(mem, files: list[Delivery]) -> list[tuple[str, list[Delivery], dict]]:
    """Steps for a chunk: ("bulk", files, key scan), ("lines", [file], {}) for a file DuckDB
    refuses, ("file", [file], {}) for one the batch reader cannot take (reserved or
    case-clashing key names) and that is read on its own as before."""
    try:
        scan = jsonl.scan_keys(mem, [str(d.path) for d in files])
    except duckdb.Error:
        if len(files) == 1:
            return [("lines", files, {})]
        first, second = _halves(files)
        return _plan_json(mem, first) + _plan_json(mem, second)
    keys = {d.relative_path: scan.get(i, {}) for i, d in enumerate(files)}
    steps: list[tuple[str, list[Delivery], dict]] = []
    run: list[Delivery] = []

    def flush():
        if run:
            names = {k for d in run for k in keys[d.relative_path] if k != jsonl.RECORD}
            lowered = {k.lower() for k in names}
            if len(lowered) == len(names) and not lowered & _RESERVED:
                steps.append(("bulk", list(run), {d.relative_path: keys[d.relative_path]
                                                  for d in run}))
            else:
                steps.extend(("file", [d], {}) for d in run)
            run.clear()

    for d in files:
        if jsonl.NOT_OBJECT in keys[d.relative_path]:
            flush()
            steps.append(("lines", [d], {}))
        elif jsonl.DUPLICATE_KEY in keys[d.relative_path]:
            flush()
            steps.append(("file", [d], {}))
        else:
            run.append(d)
    flush()
    return steps


def _load_json_bulk(con, mem, table: SourceTable, group: list[Delivery],
                    scan: dict[str, dict[str, int]], batch: BatchResult) -> dict[str, FileResult]:
    """Files the key scan accepted: one ``read_json`` straight into the raw table.

    The read runs in the batch connection (no copy through Arrow): the key scan already
    parsed every line of these files in the scratch connection, so the read is not expected
    to fail; if it does, the batch fails naming the files. Record positions come from one
    ``row_number()`` over the read (file order is kept) minus each file's offset, from the
    scan's record counts; the counts and numbers per file are checked at the end of the
    batch (:func:`_check_row_numbers`).
    """
    per_file = [(d, sorted(k for k in scan[d.relative_path] if k != jsonl.RECORD),
                 scan[d.relative_path].get(jsonl.RECORD, 0) > 0) for d in group]
    _check_and_drift(con, table, per_file, batch)
    results = {d.relative_path: FileResult(d) for d in group}
    # a file with no record, or whose records have no key at all, adds no row
    readable = [d for d, columns, has_rows in per_file if has_rows and columns]
    if not readable:
        return results
    columns = sorted({c for d, cols, _ in per_file for c in cols})
    counts = [scan[d.relative_path][jsonl.RECORD] for d in readable]
    starts = [0, *itertools.accumulate(counts)][:-1]
    files = pa.table({"idx": pa.array(range(len(readable)), pa.int64()),
                      "rel": [d.relative_path for d in readable],
                      "start": pa.array(starts, pa.int64())})
    con.register("_crmw_files", files)
    try:
        try:
            loaded = con.execute(
                f"""INSERT INTO {table.qualified_raw_name} BY NAME
                    SELECT r.* EXCLUDE ({_IDX}, {_POS}), $system AS _source_system,
                           f.rel AS _source_object, r.{_POS} - f.start AS {ROW_NUMBER},
                           $batch AS _batch_id, $at::TIMESTAMP AS _extracted_at
                    FROM (SELECT *, file_index AS {_IDX}, row_number() OVER () AS {_POS}
                          FROM {jsonl.read_sql(columns)}) r
                    JOIN _crmw_files f ON r.{_IDX} = f.idx""",
                {"paths": [str(d.path) for d in readable], "system": table.system,
                 "batch": batch.batch_id, "at": batch.extracted_at},
            ).fetchone()[0]
        except duckdb.Error as exc:
            raise ExtractionError(
                f"{readable[0].relative_path} .. {readable[-1].relative_path}: DuckDB's key "
                f"scan accepted these files but read_json refused them: {exc}") from exc
        if loaded != sum(counts):
            raise ExtractionError(f"{readable[0].relative_path} .. {readable[-1].relative_path}"
                                  f": the key scan counted {sum(counts)} records, the read "
                                  f"{loaded}")
    finally:
        con.unregister("_crmw_files")
    for d, n in zip(readable, counts, strict=True):
        result = results[d.relative_path]
        result.rows_read = result.rows_loaded = n
        result.numbered_in_sql = True
    return results


# ------------------------------------------------------------------ CSV

def _load_csv_chunk(con, mem, table: SourceTable, chunk: list[Delivery],
                    batch: BatchResult) -> dict[str, FileResult]:
    results: dict[str, FileResult] = {}
    groups: list[tuple[list[str], list[Delivery]]] = []
    for d in chunk:  # consecutive files with the same header row are read together
        header = csvfile.read_header(d.path, d.relative_path)
        if groups and groups[-1][0] == header:
            groups[-1][1].append(d)
        else:
            groups.append((header, [d]))
    for header, group in groups:
        if not header:  # an empty file: no columns, no rows
            results.update((d.relative_path, FileResult(d)) for d in group)
        elif {h.lower() for h in header} & _RESERVED:
            for d in group:
                parsed = csvfile.parse_csv(d.path, d.relative_path, mem)
                results[d.relative_path] = _load_parsed(con, table, d, parsed, batch)
        else:
            results.update(_load_csv_group(con, mem, table, header, group, batch))
    return results


def _load_csv_group(con, mem, table: SourceTable, header: list[str], group: list[Delivery],
                    batch: BatchResult) -> dict[str, FileResult]:
    try:
        mem.execute("DROP TABLE IF EXISTS _crmw_rejects; DROP TABLE IF EXISTS _crmw_rejects_scan")
        mem.execute(
            f"""CREATE OR REPLACE TEMP TABLE _crmw_chunk AS
                SELECT *, file_index AS {_IDX}, row_number() OVER () AS {_POS}
                FROM {csvfile.read_sql(header, '_crmw_rejects')}""",
            {"paths": [str(d.path) for d in group]},
        )
    except duckdb.Error:
        mem.execute("DROP TABLE IF EXISTS _crmw_chunk")
        if len(group) == 1:
            d = group[0]
            parsed = csvfile._parse_python(d.path, d.relative_path, header)
            return {d.relative_path: _load_parsed(con, table, d, parsed, batch)}
        first, second = _halves(group)
        return {**_load_csv_group(con, mem, table, header, first, batch),
                **_load_csv_group(con, mem, table, header, second, batch)}
    try:
        rejected_paths = {p for (p,) in mem.execute(
            """SELECT DISTINCT s.file_path FROM _crmw_rejects e
               JOIN _crmw_rejects_scan s USING (scan_id, file_id)""").fetchall()}
        rejected = [i for i, d in enumerate(group) if str(d.path) in rejected_paths]
        clean = [i for i in range(len(group)) if i not in set(rejected)]
        spans = _scratch_spans(mem, group)
        # rejected files are checked when re-read; a header-only file has no rows to refuse
        _check_and_drift(con, table, [(group[i], header, i in spans) for i in clean], batch)
        _stream_scratch(con, mem, table, group, clean, header, spans, batch)
    finally:
        mem.execute("DROP TABLE IF EXISTS _crmw_chunk")
    results = {}
    for i in clean:
        d = group[i]
        n = spans.get(i, (0, 0))[0]
        results[d.relative_path] = FileResult(d, n, n)
    for i in rejected:  # a bad record: Python's csv finds its physical line and raw text
        d = group[i]
        parsed = csvfile._parse_python(d.path, d.relative_path, header)
        results[d.relative_path] = _load_parsed(con, table, d, parsed, batch)
    return results
