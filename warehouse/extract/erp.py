"""Incremental extraction of ERP tables (SQLite, PostgreSQL, MariaDB) into ``raw_erp``.

The ERP keeps a version log: a changed row arrives again with a newer ``updated_at``. Each run
reads rows with ``updated_at >= cursor`` (or NULL) and keeps only those whose
(primary key, updated_at) is not yet in the raw table, so rows sharing the cursor's timestamp
are neither missed (a later writer at the same second) nor loaded twice. The cursor is the
largest ``updated_at`` seen, stored in ``raw_meta.erp_cursors`` in the same transaction.

SQLite and PostgreSQL are read by DuckDB's own scanners (fast, no Python per row); MariaDB has
no DuckDB extension wheel, so it is streamed through SQLAlchemy/PyMySQL in chunks of Arrow.
Values are stored as text exactly as the source renders them; ``_source_row_number`` is the
row's 1-based position in the batch, ordered by ``updated_at`` then primary key.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
import pyarrow as pa

from contracts.sources import SourceTable
from warehouse.extract import bookkeeping
from warehouse.extract.batch import BatchResult
from warehouse.extract.errors import ExtractionError, MissingColumnError
from warehouse.extract.raw_tables import add_drifted_columns, missing_required, quote

ATTACHED = "erp_src"
MYSQL_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class ErpLocation:
    """Where the ERP lives, parsed from ``CRMW_ERP_URL``."""

    kind: str  # sqlite | postgres | mysql
    url: str
    target: str  # sqlite file path, libpq connection string, or the SQLAlchemy URL
    schema: str

    @property
    def display(self) -> str:
        """The URL without its password, for messages and metadata."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url


def parse_erp_url(url: str) -> ErpLocation:
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path:
            raise ExtractionError(f"CRMW_ERP_URL {url!r}: expected sqlite:///<path to file>")
        return ErpLocation("sqlite", url, path, "main")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    schema = query.pop("schema", [None])[0]
    if scheme.startswith("postgres"):
        fields = {
            "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432),
            "dbname": unquote(parts.path.lstrip("/")) or "postgres",
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
        }
        dsn = " ".join(f"{k}={v}" for k, v in fields.items() if v)
        return ErpLocation("postgres", url, dsn, schema or "public")
    if scheme.startswith(("mysql", "mariadb")):
        return ErpLocation("mysql", url, url.split("?", 1)[0], schema or "")
    raise ExtractionError(
        f"CRMW_ERP_URL {url!r}: unsupported scheme {scheme!r} "
        "(use sqlite:///..., postgresql://... or mysql+pymysql://...)"
    )


def extract_erp_table(con: duckdb.DuckDBPyConnection, table: SourceTable, location: ErpLocation,
                      batch: BatchResult) -> None:
    """Load the new versions of one ERP table into its raw table (caller holds the txn)."""
    cursor = bookkeeping.erp_cursor(con, table.name)
    if location.kind == "mysql":
        columns = _stage_from_mysql(con, table, location, cursor)
    else:
        columns = _stage_from_scanner(con, table, location, cursor)
    added = add_drifted_columns(con, table, columns)
    batch.added_columns.extend(added)

    pk_match = " AND ".join(
        f"r.{quote(k)} IS NOT DISTINCT FROM i.{quote(k)}" for k in table.primary_key
    )
    upd = quote(table.updated_at)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _erp_new AS
            SELECT i.* FROM _erp_incoming i
            WHERE NOT EXISTS (SELECT 1 FROM {table.qualified_raw_name} r
                              WHERE {pk_match} AND r.{upd} IS NOT DISTINCT FROM i.{upd})"""
    )
    order = ", ".join(["_cursor"] + [quote(k) for k in table.primary_key])
    select_cols = ", ".join(quote(c) for c in columns)
    con.execute(
        f"""INSERT INTO {table.qualified_raw_name} BY NAME
            SELECT {select_cols}, 'erp' AS _source_system, ? AS _source_object,
                   row_number() OVER (ORDER BY {order}) AS _source_row_number,
                   ? AS _batch_id, ?::TIMESTAMP AS _extracted_at
            FROM _erp_new""",
        [table.name, batch.batch_id, batch.extracted_at],
    )
    batch.rows_read += con.execute("SELECT count(*) FROM _erp_incoming").fetchone()[0]
    batch.rows_loaded += con.execute("SELECT count(*) FROM _erp_new").fetchone()[0]
    newest = con.execute("SELECT max(_cursor)::VARCHAR FROM _erp_incoming").fetchone()[0]
    batch.cursor_value = newest if newest is not None else cursor
    bookkeeping.save_erp_cursor(con, table.name, table.updated_at, batch.cursor_value,
                                batch.batch_id)
    con.execute("DROP TABLE _erp_incoming")
    con.execute("DROP TABLE _erp_new")


def _check_columns(table: SourceTable, location: ErpLocation, columns: list[str]) -> None:
    missing = missing_required(table, columns)
    if missing:
        raise MissingColumnError(f"ERP table {table.name!r} at {location.display}", missing,
                                 table.name)


def attach(con: duckdb.DuckDBPyConnection, location: ErpLocation) -> None:
    """Attach the ERP read-only to the warehouse connection (outside any transaction)."""
    kind = "sqlite" if location.kind == "sqlite" else "postgres"
    target = location.target.replace("'", "''")
    if kind == "sqlite":
        con.execute("SET sqlite_all_varchar = true")  # values as SQLite stores them, as text
    try:
        con.execute(f"ATTACH '{target}' AS {ATTACHED} (TYPE {kind}, READ_ONLY)")
    except duckdb.Error as exc:
        raise ExtractionError(f"cannot open the ERP at {location.display}: {exc}") from exc


def detach(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DETACH DATABASE IF EXISTS {ATTACHED}")


def _stage_from_scanner(con, table: SourceTable, location: ErpLocation,
                        cursor: str | None) -> list[str]:
    source = f"{ATTACHED}.{quote(location.schema)}.{quote(table.name)}"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as exc:
        raise ExtractionError(
            f"ERP table {table.name!r} not readable at {location.display}: {exc}"
        ) from exc
    columns = [row[0] for row in described]
    types = {row[0]: row[1] for row in described}
    _check_columns(table, location, columns)
    upd = quote(table.updated_at)
    where, params = "", []
    if cursor is not None:
        # compare in the source's own type so the filter is pushed down to the ERP
        where = f"WHERE {upd} >= CAST(? AS {types[table.updated_at]}) OR {upd} IS NULL"
        params = [cursor]
    as_text = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in columns)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _erp_incoming AS
            SELECT {as_text}, {upd} AS _cursor FROM {source} {where}""",
        params,
    )
    return columns


def _as_text(value) -> str | None:
    """Render a DB-API value as text the way the DuckDB scanners render theirs."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time | decimal.Decimal):
        return str(value)
    return str(value)


def _stage_from_mysql(con, table: SourceTable, location: ErpLocation,
                      cursor: str | None) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(location.target)
    try:
        try:
            columns = [c["name"] for c in sa.inspect(engine).get_columns(
                table.name, schema=location.schema or None)]
        except sa.exc.SQLAlchemyError as exc:
            raise ExtractionError(
                f"ERP table {table.name!r} not readable at {location.display}: {exc}"
            ) from exc
        if not columns:
            raise ExtractionError(f"ERP table {table.name!r} not found at {location.display}")
        _check_columns(table, location, columns)
        upd = f"`{table.updated_at}`"
        name = f"`{location.schema}`.`{table.name}`" if location.schema else f"`{table.name}`"
        select = ", ".join(f"`{c}`" for c in columns)
        sql = f"SELECT {select} FROM {name}"
        params = {}
        if cursor is not None:
            sql += f" WHERE {upd} >= :cursor OR {upd} IS NULL"
            params = {"cursor": cursor}
        schema = pa.schema([(c, pa.string()) for c in columns] + [("_cursor", pa.string())])
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _erp_incoming ("
            + ", ".join(f"{quote(c)} VARCHAR" for c in columns) + ", _cursor VARCHAR)"
        )
        cursor_index = columns.index(table.updated_at)
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(sa.text(sql), params)
            for rows in result.partitions(MYSQL_CHUNK_ROWS):
                texts = [[_as_text(v) for v in row] for row in rows]
                arrays = [pa.array([r[i] for r in texts], pa.string())
                          for i in range(len(columns))]
                arrays.append(pa.array([r[cursor_index] for r in texts], pa.string()))
                con.register("_erp_chunk", pa.Table.from_arrays(arrays, schema=schema))
                con.execute("INSERT INTO _erp_incoming SELECT * FROM _erp_chunk")
                con.unregister("_erp_chunk")
        return columns
    finally:
        engine.dispose()
