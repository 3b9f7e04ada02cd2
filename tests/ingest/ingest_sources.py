"""Tiny source systems in the shape of contracts/sources.py, written by the tests.

Values are generated from each column's contract type, so a contract change is picked up
without editing the tests. ERP rows carry a chosen ``updated_at``; export records are dicts of
delivered values (nested JSON columns as Python objects, rendered by the writer).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import json
import sqlite3
from pathlib import Path

import duckdb

from contracts.sources import SourceTable, tables_of
from warehouse.config import settings

BASE_TS = dt.datetime(2024, 3, 1, 9, 30, 0)


def query(sql: str, params=None):
    """Rows of ``sql`` on the configured warehouse, read-only (the tests' view of it)."""
    con = duckdb.connect(str(settings().warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def erp_value(table: SourceTable, column, i: int, updated_at: dt.datetime):
    """A Python value for one ERP column of row ``i`` (1-based)."""
    if column.name == table.updated_at:
        return updated_at
    if column.name in table.primary_key:
        return i if column.type == "INTEGER" else f"{table.name[:3].upper()}-{i:05d}"
    return {
        "INTEGER": i % 7,
        "DECIMAL": decimal.Decimal(f"{i * 3}.50"),
        "TIMESTAMP": BASE_TS - dt.timedelta(days=i),
        "BOOLEAN": i % 2 == 0,
        "JSON": json.dumps({"n": i}),
    }.get(column.type, f"{column.name} {i}")


def erp_rows(table: SourceTable, ids, updated_at: dt.datetime) -> list[dict]:
    return [{c.name: erp_value(table, c, i, updated_at) for c in table.columns} for i in ids]


def as_sqlite_text(value):
    """How the ERP's SQLite stores a value (timestamps as ISO text, decimals as text)."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, decimal.Decimal | bool):
        return str(int(value)) if isinstance(value, bool) else str(value)
    return value


SQLITE_TYPES = {"INTEGER": "INTEGER", "DECIMAL": "TEXT", "TIMESTAMP": "TEXT"}


def create_sqlite_erp(path: Path, tables=None) -> None:
    con = sqlite3.connect(path)
    for table in tables or tables_of("erp"):
        cols = ", ".join(f'"{c.name}" {SQLITE_TYPES.get(c.type, "TEXT")}' for c in table.columns)
        con.execute(f'CREATE TABLE IF NOT EXISTS "{table.name}" ({cols})')
    con.commit()
    con.close()


def insert_sqlite(path: Path, table_name: str, rows: list[dict]) -> None:
    if not rows:
        return
    con = sqlite3.connect(path)
    names = list(rows[0])
    columns = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" for _ in names)
    con.executemany(
        f'INSERT INTO "{table_name}" ({columns}) VALUES ({marks})',
        [[as_sqlite_text(r[n]) for n in names] for r in rows],
    )
    con.commit()
    con.close()


def sqlalchemy_erp_tables(metadata):
    """The ERP tables with native types, for PostgreSQL and MariaDB."""
    import sqlalchemy as sa

    types = {"INTEGER": sa.BigInteger, "DECIMAL": lambda: sa.Numeric(12, 2),
             "TIMESTAMP": sa.DateTime, "TEXT": lambda: sa.String(200)}
    return {
        t.name: sa.Table(
            t.name, metadata,
            *[sa.Column(c.name, types.get(c.type, types["TEXT"])()) for c in t.columns],
        )
        for t in tables_of("erp")
    }


# ---------------------------------------------------------------- export files

def export_value(table: SourceTable, column, i: int, day: dt.date):
    if column.name in table.primary_key:
        return f"{table.name[:2].upper()}{day:%m%d}{i:06d}"
    if column.type == "TIMESTAMP":
        ts = dt.datetime.combine(day, dt.time(8)) + dt.timedelta(minutes=i)
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ") if table.system == "ecommerce" else (
            ts.strftime("%Y-%m-%d %H:%M:%S"))
    if column.type == "JSON":
        return ([{"product_id": f"SKU-{i:05d}", "quantity": 2, "unit_price": 19.99}]
                if column.name == "items" else {"city": "Springfield", "postal_code": f"{i:05d}"})
    if column.type == "INTEGER":
        return str(1 + i % 5) if table.system == "service_desk" else 1 + i % 5
    if column.type == "DECIMAL":
        return 10.25 + i
    if column.type == "BOOLEAN":
        return i % 2 == 0
    return f"{column.name} {i}"


def export_records(table: SourceTable, n: int, day: dt.date, start: int = 1) -> list[dict]:
    return [{c.name: export_value(table, c, i, day) for c in table.columns}
            for i in range(start, start + n)]


def export_path(root: Path, table: SourceTable, day: dt.date, suffix: str = "") -> Path:
    ext = ".jsonl.gz" if table.system == "ecommerce" else ".csv"
    folder = root / table.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{table.name}_{day.isoformat()}{('_' + suffix) if suffix else ''}{ext}"


def write_jsonl(path: Path, records: list[dict], extra_lines: dict[int, str] | None = None) -> Path:
    """Gzip JSON lines; ``extra_lines`` puts raw text at given 1-based line numbers."""
    lines = [json.dumps(r) for r in records]
    for line_no, text in sorted((extra_lines or {}).items()):
        lines.insert(line_no - 1, text)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def write_csv(path: Path, records: list[dict], header: list[str] | None = None) -> Path:
    header = header or list(records[0])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for r in records:
            writer.writerow(["" if r.get(h) is None else r.get(h) for h in header])
    return path


def write_day(ecommerce_dir: Path, service_dir: Path, day: dt.date, n: int = 3) -> dict:
    """One day of every export entity, ``n`` records each; returns {table name: records}."""
    written = {}
    for table in tables_of("ecommerce"):
        written[table.name] = export_records(table, n, day)
        write_jsonl(export_path(ecommerce_dir, table, day), written[table.name])
    for table in tables_of("service_desk"):
        written[table.name] = export_records(table, n, day)
        write_csv(export_path(service_dir, table, day), written[table.name])
    return written
