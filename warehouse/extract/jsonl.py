"""Parse a JSON-lines export (optionally gzip) into text columns, quarantining bad lines.

Bulk path: DuckDB's ``read_ndjson_objects`` finds every key of every record (so a column that
appears only late in the file is still seen: schema drift is never sampled away) and validates
the file; then ``read_json(format='newline_delimited')`` with every column typed VARCHAR reads
the values. Nested objects and arrays arrive as JSON text; numbers as DuckDB renders them
(``12.50`` becomes ``12.5``); strings verbatim.

If DuckDB refuses the file (a malformed or non-object line), the file is read line by line in
Python: bad lines go to quarantine with their physical line number, reason and raw text, and
the good lines are converted by DuckDB's ``json_transform`` so values render identically.
A file that cannot be decompressed at all raises :class:`UnreadableFileError`.

``_source_row_number`` is the record's 1-based position among the non-blank lines of the file
(the line number, for files without blank lines), the same in both paths.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import duckdb

from warehouse.extract.batch import QuarantinedLine
from warehouse.extract.errors import ExtractionError, UnreadableFileError
from warehouse.extract.parsed import ROW_NUMBER, ParsedFile, empty, printable

NOT_OBJECT = "\x00not-an-object"  # marks a non-object line; bound as a parameter


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns_struct(columns: list[str]) -> str:
    return "{" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in columns) + "}"


def parse_jsonl(path: Path, label: str,
                mem: duckdb.DuckDBPyConnection | None = None) -> ParsedFile:
    """One file on its own (the batch loader's fallback); ``mem``: a scratch connection."""
    own = mem is None
    mem = duckdb.connect() if own else mem
    try:
        return _parse_bulk(mem, path)
    except duckdb.Error:
        return _parse_lines(mem, path, label)
    finally:
        if own:
            mem.close()


RECORD = "\x00record"  # one per record in a key scan, so empty objects are counted too
DUPLICATE_KEY = "\x00duplicate-key"  # an object with a key twice: read_json refuses it


def scan_keys(mem: duckdb.DuckDBPyConnection, paths: list[str]) -> dict[int, dict[str, int]]:
    """Key scan of several files in one read: {file index: {key: count}}.

    Every record contributes ``RECORD``; a line that is valid JSON but not an object
    contributes ``NOT_OBJECT`` instead, an object with a repeated key ``DUPLICATE_KEY``. A
    file with no records does not appear. Raises ``duckdb.Error`` if any file has a
    malformed line or cannot be read.
    """
    # grouped by the key list itself: records of one file nearly all share one key list, so
    # this is a few groups per file (cheaper than unnesting every key of every record).
    # read_ndjson_objects strips leading blanks, and valid JSON starting with "{" is an object.
    rows = mem.execute(
        """SELECT file_index,
                  CASE WHEN starts_with(json::VARCHAR, '{') THEN json_keys(json) END AS keys,
                  count(*)
           FROM read_ndjson_objects($paths) GROUP BY ALL""",
        {"paths": paths},
    ).fetchall()
    found: dict[int, dict[str, int]] = {}
    for index, keys, count in rows:
        seen = found.setdefault(index, {})
        if keys is None:
            marks = [NOT_OBJECT]
        elif len(set(keys)) < len(keys):
            marks = [DUPLICATE_KEY]
        else:
            marks = [RECORD, *keys]
        for key in marks:
            seen[key] = seen.get(key, 0) + count
    return found


def read_sql(columns: list[str]) -> str:
    """``read_json`` over the list bound as ``$paths``: every column VARCHAR."""
    return (f"read_json($paths, format = 'newline_delimited', "
            f"columns = {_columns_struct(columns)})")


def _parse_bulk(mem: duckdb.DuckDBPyConnection, path: Path) -> ParsedFile:
    keys = [row[0] for row in mem.execute(
        """SELECT DISTINCT unnest(CASE WHEN json_type(json) = 'OBJECT' THEN json_keys(json)
                                   ELSE [$marker] END)
            FROM read_ndjson_objects($path)""",
        {"marker": NOT_OBJECT, "path": str(path)},
    ).fetchall()]
    if NOT_OBJECT in keys:
        raise duckdb.InvalidInputException("a line is valid JSON but not an object")
    columns = sorted(keys)
    if not columns:
        return empty()
    rows = mem.execute(
        f"""SELECT *, row_number() OVER () AS {ROW_NUMBER}
            FROM read_json(?, format = 'newline_delimited',
                           columns = {_columns_struct(columns)})""",
        [str(path)],
    ).to_arrow_table()
    return ParsedFile(rows, columns, rows.num_rows)


def _read_bytes(path: Path, label: str) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(label, f"{type(exc).__name__}: {exc}") from exc


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _parse_lines(mem: duckdb.DuckDBPyConnection, path: Path, label: str) -> ParsedFile:
    import pyarrow as pa

    good_numbers, good_lines, quarantined = [], [], []
    keys: dict[str, None] = {}
    record_no = 0
    for line_no, raw in enumerate(_read_bytes(path, label).split(b"\n"), start=1):
        raw = raw.removesuffix(b"\r")
        if not raw.strip():
            continue
        record_no += 1
        try:
            text = raw.decode("utf-8")
            value = json.loads(text, parse_constant=_reject_constant)
        except UnicodeDecodeError as exc:
            reason = f"invalid UTF-8: {exc.reason} at byte {exc.start}"
        except ValueError as exc:
            reason = f"invalid JSON: {exc}"
        else:
            if isinstance(value, dict):
                good_numbers.append(record_no)
                good_lines.append(text)
                keys.update(dict.fromkeys(value))
                continue
            reason = f"not a JSON object (a {type(value).__name__})"
        quarantined.append(QuarantinedLine(label, line_no, reason, printable(raw)))

    columns = sorted(keys)
    if not columns:
        parsed = empty()
    else:
        mem.register("_lines", pa.table({"n": pa.array(good_numbers, pa.int64()),
                                         "line": pa.array(good_lines, pa.string())}))
        spec = json.dumps(dict.fromkeys(columns, "VARCHAR"))
        try:
            rows = mem.execute(
                f"SELECT unnest(json_transform(line, ?)), n AS {ROW_NUMBER} FROM _lines ORDER BY n",
                [spec],
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise ExtractionError(
                f"{label}: DuckDB cannot convert the JSON records: {exc}"
            ) from exc
        parsed = ParsedFile(rows, columns, 0)
    parsed.rows_read = record_no
    parsed.quarantined = quarantined
    parsed.parser = "python"
    return parsed
