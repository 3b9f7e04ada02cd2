"""The ERP database: the contract's tables created through SQLAlchemy in SQLite (default),
PostgreSQL or MariaDB, and rows upserted by primary key (a later window updates rows in place,
as an ERP does; ``updated_at`` moves forward so incremental extraction sees the change)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME

from warehouse.source_contract import tables_of

_SQLITE_TS = SQLITE_DATETIME(
    storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
    regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)")


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
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url)


def recreate(url: str) -> None:
    """Drop and create the ERP tables (a fresh world)."""
    eng = engine_for(url)
    md = erp_metadata()
    md.drop_all(eng)
    md.create_all(eng)
    eng.dispose()


def upsert(url: str, table: str, records: list[dict], key: str, chunk: int = 20000,
           replace_existing: bool = True) -> None:
    """Insert rows, replacing any existing row with the same key (delete + insert)."""
    eng = engine_for(url)
    t = erp_metadata().tables[table]
    with eng.begin() as conn:
        for i in range(0, len(records), chunk):
            part = records[i:i + chunk]
            if replace_existing:
                keys = [r[key] for r in part]
                conn.execute(t.delete().where(t.c[key].in_(keys)))
            conn.execute(t.insert(), part)
    eng.dispose()


def row_counts(url: str) -> dict[str, int]:
    eng = engine_for(url)
    md = erp_metadata()
    with eng.connect() as conn:
        out = {name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
               for name, t in md.tables.items()}
    eng.dispose()
    return out
