"""The ERP database: the contract's tables created through SQLAlchemy in SQLite (default),
PostgreSQL or MariaDB, and rows upserted by primary key (a later window updates rows in place,
as an ERP does; ``updated_at`` moves forward so incremental extraction sees the change).

Rows are written through each driver's bulk path rather than SQLAlchemy's per-row insert
(which took minutes at 100,000 persons): SQLite ``executemany`` of plain tuples, PostgreSQL
``COPY``, MariaDB multi-row ``REPLACE`` batches. Values are rendered once by
:func:`rows_as_tuples`, so every backend stores the same text, numbers and timestamps.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME

from contracts.sources import SourceTable, tables_of

_SQLITE_TS = SQLITE_DATETIME(
    storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
    regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)")
BATCH_ROWS = 50_000  # rows per executemany / COPY call: bounded driver memory


def _sa_type(col_type: str, name: str):
    if col_type == "INTEGER":
        return sa.BigInteger()
    if col_type == "DECIMAL":
        return sa.Numeric(12, 2)
    if col_type == "TIMESTAMP":
        return sa.DateTime().with_variant(_SQLITE_TS, "sqlite")
    return sa.String(255 if name not in ("store_id", "product_id", "member_no") else 64)


def erp_metadata() -> sa.MetaData:
    md = sa.MetaData()
    for t in tables_of("erp"):
        cols = [sa.Column(c.name, _sa_type(c.type, c.name), primary_key=c.name in t.primary_key,
                          nullable=not (c.required or c.name in t.primary_key))
                for c in t.columns]
        sa.Table(t.name, md, *cols, sa.Index(f"ix_{t.name}_updated_at", "updated_at"))
    return md


def engine_for(url: str) -> sa.Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url)


def recreate(url: str) -> None:
    """Drop and create the ERP tables (a fresh world)."""
    eng = engine_for(url)
    md = erp_metadata()
    md.drop_all(eng)
    md.create_all(eng)
    eng.dispose()


def rows_as_tuples(spec: SourceTable, data: dict[str, np.ndarray]) -> list[tuple]:
    """Driver-ready rows: timestamps as 'YYYY-MM-DD HH:MM:SS' text, money as floats rounded to
    cents, integers as int, text as str, missing values as None.

    ``data`` maps every column of ``spec`` to an array; TIMESTAMP columns hold naive
    ``datetime64`` values (NaT = missing).
    """
    if not len(data[spec.column_names[0]]):
        return []
    cols = []
    for col in spec.columns:
        v = data[col.name]
        if col.type == "TIMESTAMP":
            ts = np.asarray(v, dtype="datetime64[s]")
            text = np.char.replace(np.datetime_as_string(ts, unit="s"), "T", " ").astype(object)
            text[np.isnat(ts)] = None
            cols.append(text.tolist())
        elif col.type == "DECIMAL":
            f = pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype="float64")
            out = np.round(f, 2).astype(object)
            out[np.isnan(f)] = None
            cols.append(out.tolist())
        elif col.type == "INTEGER":
            s = pd.Series(v)
            missing = s.isna().to_numpy()
            out = np.where(missing, 0, s.fillna(0).to_numpy()).astype("int64").astype(object)
            out[missing] = None
            cols.append(out.tolist())
        else:
            s = pd.Series(v, dtype=object)
            missing = s.isna().to_numpy()
            out = s.astype(str).to_numpy(dtype=object, copy=True)
            out[missing] = None
            cols.append(out.tolist())
    return list(zip(*cols, strict=True))


def upsert(url: str, spec: SourceTable, rows: list[tuple], replace_existing: bool = True) -> None:
    """Insert rows, replacing any existing row with the same primary key."""
    if not rows:
        return
    if url.startswith("sqlite:///"):
        _upsert_sqlite(Path(url.removeprefix("sqlite:///")), spec, rows, replace_existing)
        return
    eng = engine_for(url)
    try:
        raw = eng.raw_connection()
        try:
            if eng.dialect.name == "postgresql":
                _upsert_postgres(raw, spec, rows, replace_existing)
            elif eng.dialect.name in ("mysql", "mariadb"):
                _upsert_mysql(raw, spec, rows, replace_existing)
            else:
                raise ValueError(f"ERP URL {make_safe(url)}: dialect {eng.dialect.name!r} is not "
                                 "supported (use sqlite, postgresql or mysql/mariadb)")
            raw.commit()
        finally:
            raw.close()
    finally:
        eng.dispose()


def make_safe(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _upsert_sqlite(path: Path, spec: SourceTable, rows: list[tuple], replace: bool) -> None:
    cols = ", ".join(f'"{c}"' for c in spec.column_names)
    marks = ", ".join("?" * len(spec.column_names))
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    con = sqlite3.connect(path)
    try:
        with con:
            for i in range(0, len(rows), BATCH_ROWS):
                con.executemany(f"{verb} INTO {spec.name} ({cols}) VALUES ({marks})",
                                rows[i:i + BATCH_ROWS])
    finally:
        con.close()


def _upsert_postgres(raw, spec: SourceTable, rows: list[tuple], replace: bool) -> None:
    """COPY into a temporary table, delete the rows it replaces, insert from it."""
    cols = ", ".join(f'"{c}"' for c in spec.column_names)
    key = spec.primary_key[0]
    cur = raw.cursor()
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS _load_{spec.name} "
                f"(LIKE {spec.name} INCLUDING DEFAULTS) ON COMMIT DROP")
    for i in range(0, len(rows), BATCH_ROWS):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for r in rows[i:i + BATCH_ROWS]:
            w.writerow(["\\N" if v is None else v for v in r])
        buf.seek(0)
        cur.copy_expert(f"COPY _load_{spec.name} ({cols}) FROM STDIN "
                        "WITH (FORMAT csv, NULL '\\N')", buf)
    if replace:
        cur.execute(f'DELETE FROM {spec.name} t USING _load_{spec.name} s '
                    f'WHERE t."{key}" = s."{key}"')
    cur.execute(f"INSERT INTO {spec.name} ({cols}) SELECT {cols} FROM _load_{spec.name}")
    cur.close()


def _upsert_mysql(raw, spec: SourceTable, rows: list[tuple], replace: bool) -> None:
    """Multi-row REPLACE (PyMySQL folds executemany into one statement per batch)."""
    cols = ", ".join(f"`{c}`" for c in spec.column_names)
    marks = ", ".join(["%s"] * len(spec.column_names))
    verb = "REPLACE" if replace else "INSERT"
    cur = raw.cursor()
    for i in range(0, len(rows), 5_000):  # stays below max_allowed_packet
        cur.executemany(f"{verb} INTO {spec.name} ({cols}) VALUES ({marks})", rows[i:i + 5_000])
    cur.close()


def row_counts(url: str) -> dict[str, int]:
    eng = engine_for(url)
    md = erp_metadata()
    with eng.connect() as conn:
        out = {name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
               for name, t in md.tables.items()}
    eng.dispose()
    return out
