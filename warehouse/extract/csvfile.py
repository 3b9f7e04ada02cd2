"""Parse a CSV export (header row, optionally gzip) into text columns, quarantining bad rows.

Bulk path: DuckDB's ``read_csv`` with the contract's dialect fixed (comma, double quotes,
header) and every column VARCHAR, with ``store_rejects`` so a row with the wrong number of
fields is detected instead of failing the read. If any row is rejected the file is re-read in
Python's ``csv`` module, which reports the physical line where each bad record starts and its
raw text for ``raw_meta.quarantined_lines``; the good rows still load. Empty fields are NULL
in both paths. A file that cannot be decompressed raises :class:`UnreadableFileError`.

``_source_row_number`` is the 1-based data record number (the header is not counted; a
record with a quoted line break counts once), the same in both paths.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.extract.batch import QuarantinedLine
from warehouse.extract.errors import ExtractionError, UnreadableFileError
from warehouse.extract.parsed import ROW_NUMBER, ParsedFile, empty, printable


def _open_text(path: Path):
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_header(path: Path, label: str) -> list[str]:
    try:
        with _open_text(path) as fh:
            header = next(csv.reader(fh), [])
    except (OSError, EOFError, zlib.error, csv.Error) as exc:
        raise UnreadableFileError(label, f"{type(exc).__name__}: {exc}") from exc
    header = [h.lstrip("\ufeff") if i == 0 else h for i, h in enumerate(header)]
    if any("\udc80" <= ch <= "\udcff" for h in header for ch in h):
        raise UnreadableFileError(label, "the header row is not valid UTF-8")
    if len({h.lower() for h in header}) != len(header) or any(not h.strip() for h in header):
        raise ExtractionError(f"{label}: header row has empty or duplicate column names: "
                              f"{header}")
    return header


def read_sql(header: list[str], rejects: str) -> str:
    """``read_csv`` over the list bound as ``$paths`` with the contract's dialect, all VARCHAR;
    rows with the wrong number of fields (and invalid UTF-8) go to the ``rejects`` table."""
    spec = "{" + ", ".join(f"{_sql_str(h)}: 'VARCHAR'" for h in header) + "}"
    return (f"read_csv($paths, header = true, delim = ',', quote = '\"', escape = '\"', "
            f"auto_detect = false, columns = {spec}, store_rejects = true, "
            f"rejects_table = {_sql_str(rejects)}, rejects_scan = {_sql_str(rejects + '_scan')})")


def parse_csv(path: Path, label: str, mem: duckdb.DuckDBPyConnection | None = None) -> ParsedFile:
    """One file on its own (the batch loader's fallback); ``mem``: a scratch connection."""
    header = read_header(path, label)
    if not header:
        return empty()
    own = mem is None
    mem = duckdb.connect() if own else mem
    try:
        mem.execute("DROP TABLE IF EXISTS _single_rejects; "
                    "DROP TABLE IF EXISTS _single_rejects_scan")
        rows = mem.execute(
            f"SELECT *, row_number() OVER () AS {ROW_NUMBER} FROM "
            f"{read_sql(header, '_single_rejects')}",
            {"paths": [str(path)]},
        ).to_arrow_table()
        if mem.execute("SELECT count(*) FROM _single_rejects").fetchone()[0] == 0:
            return ParsedFile(rows, header, rows.num_rows)
    except duckdb.Error:
        pass
    finally:
        if own:
            mem.close()
    return _parse_python(path, label, header)


def _parse_python(path: Path, label: str, header: list[str]) -> ParsedFile:
    consumed: list[str] = []

    def tracked(lines):
        for line in lines:
            consumed.append(line)
            yield line

    values: list[list[str | None]] = [[] for _ in header]
    numbers: list[int] = []
    quarantined: list[QuarantinedLine] = []
    record_no = 0
    try:
        with _open_text(path) as fh:
            reader = csv.reader(tracked(fh), strict=False)
            next(reader)
            start_line = reader.line_num + 1
            for record in reader:
                raw_text, consumed[:] = "".join(consumed), []
                record_no += 1
                reason = None
                if len(record) != len(header):
                    reason = f"expected {len(header)} fields (header), found {len(record)}"
                elif any("\udc80" <= ch <= "\udcff" for field in record for ch in field):
                    reason = "invalid UTF-8"
                if reason:
                    raw = raw_text.encode("utf-8", errors="surrogateescape").rstrip(b"\r\n")
                    quarantined.append(QuarantinedLine(label, start_line, reason, printable(raw)))
                else:
                    numbers.append(record_no)
                    for i, field in enumerate(record):
                        values[i].append(field if field != "" else None)
                start_line = reader.line_num + 1
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(label, f"{type(exc).__name__}: {exc}") from exc
    except csv.Error as exc:
        raise UnreadableFileError(label, f"CSV error near line {reader.line_num}: {exc}") from exc
    table = pa.table({**{h: pa.array(v, pa.string()) for h, v in zip(header, values, strict=True)},
                      ROW_NUMBER: pa.array(numbers, pa.int64())})
    return ParsedFile(table, header, record_no, quarantined, parser="python")
