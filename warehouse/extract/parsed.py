"""What a file parser hands to the loader: good rows as Arrow text, and quarantined lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from warehouse.extract.batch import QuarantinedLine

ROW_NUMBER = "_source_row_number"


@dataclass
class ParsedFile:
    rows: pa.Table  # delivered columns as strings, plus _source_row_number
    columns: list[str]  # every column (key or header field) the file delivered
    rows_read: int  # records seen, good or bad
    quarantined: list[QuarantinedLine] = field(default_factory=list)
    parser: str = "duckdb"  # duckdb (bulk reader) or python (line-by-line, after a bad line)


def empty(columns: list[str] | None = None) -> ParsedFile:
    names = list(columns or [])
    table = pa.table({**{c: pa.array([], pa.string()) for c in names},
                      ROW_NUMBER: pa.array([], pa.int64())})
    return ParsedFile(table, names, 0)


def printable(raw: bytes | str, limit: int = 10_000) -> str:
    """A quarantined line as text (invalid UTF-8 shown with replacement characters)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= limit else text[:limit] + "...[truncated]"
