"""The three ERP databases the extractor supports, as throwaway test instances.

SQLite is a file under tmp_path; PostgreSQL and MariaDB get a uniquely named database on the
local servers, dropped afterwards. A test using a server that is not reachable is skipped with
the reason; everything else about the server path is exercised for real.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from contracts.sources import tables_of
from ingest import ingest_sources as src

PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
MY_ADMIN = "mysql+pymysql://root:@127.0.0.1:3306/"


class SqliteErp:
    kind = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        self.url = f"sqlite:///{path}"
        src.create_sqlite_erp(path)

    def insert(self, table_name: str, rows: list[dict]) -> None:
        src.insert_sqlite(self.path, table_name, rows)

    def execute(self, sql: str) -> None:
        import sqlite3

        con = sqlite3.connect(self.path)
        con.execute(sql)
        con.commit()
        con.close()

    def close(self) -> None:
        pass


class ServerErp:
    """PostgreSQL or MariaDB through SQLAlchemy, with native column types."""

    def __init__(self, kind: str):
        import sqlalchemy as sa

        self.kind = kind
        self.name = f"crmw_ingest_{uuid.uuid4().hex[:10]}"
        admin_url = PG_ADMIN if kind == "postgres" else MY_ADMIN
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with self.admin.connect() as con:
                con.execute(sa.text(f"CREATE DATABASE {self.name}"))
        except sa.exc.OperationalError as exc:
            self.admin.dispose()
            pytest.skip(f"{kind} server at 127.0.0.1 not reachable: {exc.orig}")
        if kind == "postgres":
            self.url = f"postgresql://postgres@127.0.0.1:5432/{self.name}"
            engine_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.name}"
        else:
            self.url = f"mysql+pymysql://root:@127.0.0.1:3306/{self.name}"
            engine_url = self.url
        self.engine = sa.create_engine(engine_url)
        self.metadata = sa.MetaData()
        self.tables = src.sqlalchemy_erp_tables(self.metadata)
        self.metadata.create_all(self.engine)

    def insert(self, table_name: str, rows: list[dict]) -> None:
        with self.engine.begin() as con:
            con.execute(self.tables[table_name].insert(), rows)

    def execute(self, sql: str) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as con:
            con.execute(sa.text(sql))

    def close(self) -> None:
        import sqlalchemy as sa

        self.engine.dispose()
        with self.admin.connect() as con:
            if self.kind == "postgres":
                con.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"))
            else:
                con.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name}"))
        self.admin.dispose()


def make_backend(kind: str, tmp_path: Path):
    if kind == "sqlite":
        return SqliteErp(tmp_path / "sources" / "erp" / "erp.sqlite")
    return ServerErp(kind)


def fill(backend, ids=range(1, 4), updated_at=src.BASE_TS) -> dict[str, list[dict]]:
    rows = {t.name: src.erp_rows(t, ids, updated_at) for t in tables_of("erp")}
    for name, table_rows in rows.items():
        backend.insert(name, table_rows)
    return rows
