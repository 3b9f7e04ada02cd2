"""The PII vault: ``pii.duckdb``, the one file holding full names, e-mails, phones, addresses.

Encryption choice: DuckDB's own database encryption (DuckDB >= 1.4), AES-256 in GCM mode
(authenticated: a tampered block fails to decrypt instead of returning garbage), with the
32-byte key derived by DuckDB from ``CRMW_PII_KEY``. Every block, the WAL and temporary files
are encrypted; only the main header (no data) is plain. We chose it over column-level
AES-GCM with ``cryptography`` because it also hides table and column names and row counts, and
lets the privacy officer query the vault with plain SQL (``ATTACH ... (ENCRYPTION_KEY ...)``)
instead of a custom decrypt step. DuckDB refuses *writes* with its built-in mbedTLS module
(not constant-time), so writers load httpfs (OpenSSL), as :func:`open_vault` does.

Without the key the file cannot be opened ("Cannot open encrypted database ... without a key")
and its bytes contain no readable PII (``tests/pii/test_pii_vault.py`` checks both). The file
is private all the same (0600, ``warehouse.filemodes``).

The vault is also where a BI pseudonym leads back to a person: every record keeps its source
id and that id's pseudonym (``source_id_hash``, the value ``dim_customer.*_id_hashes``,
``fct_tickets.contact_id_hash`` ... carry), so the privacy officer can answer "who is this?"
and nobody else can.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from pathlib import Path

import duckdb

from warehouse.config import settings
from warehouse.connection import connect
from warehouse.filemodes import private_umask, secure_database
from warehouse.pii.crypto import pseudonymize_sql
from warehouse.pii.keys import vault_key

VAULT_ALIAS = "vault"
CIPHER = "GCM"
RECORDS_TABLE = "customer_records"  # one row per source customer record, with its customer_key
SOURCE_RECORDS = "intermediate.int_customer_records"
IDENTITY_MAP = "intermediate.int_customer_identity_map"
PII_COLUMNS = ("first_name", "last_name", "full_name", "email", "phone_e164", "birth_date",
               "street", "city", "postal_code", "country_code")


def vault_path(warehouse_path: Path | None = None) -> Path:
    return (warehouse_path or settings().warehouse_path).parent / "pii.duckdb"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@contextmanager
def open_vault(path: Path | None = None, *, read_only: bool = False, key: str | None = None):
    """A connection with the vault attached as ``vault`` (and used as default catalog)."""
    path = Path(path or vault_path())
    if read_only and not path.exists():
        raise FileNotFoundError(f"no PII vault at {path}: materialize the pii/vault asset first")
    with nullcontext() if read_only else private_umask():  # its WAL is created 0600 too
        con = connect(":memory:", extensions=() if read_only else ("httpfs",))
        try:
            options = [f"ENCRYPTION_KEY {_sql_string(key or vault_key())}",
                       f"ENCRYPTION_CIPHER '{CIPHER}'"]
            if read_only:
                options.append("READ_ONLY")
            con.execute(f"ATTACH {_sql_string(str(path))} AS {VAULT_ALIAS} "
                        f"({', '.join(options)})")
            if not read_only:
                secure_database(path)
            con.execute(f"USE {VAULT_ALIAS}")
            yield con
        finally:
            con.close()


def vault_cipher(path: Path | None = None) -> tuple[bool, str | None]:
    """(encrypted, cipher) as DuckDB reports them for the vault file."""
    with open_vault(path, read_only=True) as con:
        return con.execute("select encrypted, cipher from duckdb_databases() "
                           f"where database_name = '{VAULT_ALIAS}'").fetchone()


def fill_vault(build_path: Path | None = None, path: Path | None = None) -> int:
    """Replace the vault's records with the current staged customer records (idempotent).

    Reads ``intermediate.int_customer_records`` joined to the identity map from the build
    database, read-only; adds each source id's pseudonym (``source_id_hash``). Returns the
    number of records stored.
    """
    build_path = Path(build_path or settings().warehouse_path)
    path = Path(path or vault_path(build_path))
    columns = ", ".join(f"r.{c}" for c in PII_COLUMNS)
    with open_vault(path) as con:
        con.execute(f"ATTACH {_sql_string(str(build_path))} AS build (READ_ONLY)")
        for relation in (SOURCE_RECORDS, IDENTITY_MAP):
            schema, table = relation.split(".")
            found = con.execute("select count(*) from duckdb_tables() where database_name = "
                                "'build' and schema_name = ? and table_name = ?",
                                [schema, table]).fetchone()[0]
            found += con.execute("select count(*) from duckdb_views() where database_name = "
                                 "'build' and schema_name = ? and view_name = ?",
                                 [schema, table]).fetchone()[0]
            if not found:
                raise LookupError(f"{build_path} has no {relation}: build the dbt models first")
        con.execute(
            f"""
            create or replace table {VAULT_ALIAS}.main.{RECORDS_TABLE} as
            select m.customer_key, r.source_system, r.source_table, r.source_id,
                   {pseudonymize_sql("r.source_id")} as source_id_hash, {columns},
                   current_timestamp as loaded_at
            from build.{SOURCE_RECORDS} as r
            join build.{IDENTITY_MAP} as m using (source_system, source_table, source_id)
            """
        )
        con.execute("DETACH build")
        n = con.execute(f"select count(*) from {RECORDS_TABLE}").fetchone()[0]
        con.execute(f"CHECKPOINT {VAULT_ALIAS}")
        return n


def lookup(customer: str, path: Path | None = None) -> list[dict]:
    """The vault records of a customer, by customer_key, (case-insensitive) e-mail or the
    pseudonym of one of their source ids (as BI sees it, e.g. in ``fct_tickets``)."""
    with open_vault(path, read_only=True) as con:
        cursor = con.execute(
            f"select * from {RECORDS_TABLE} where customer_key = ? or customer_key in "
            f"(select customer_key from {RECORDS_TABLE} where lower(email) = lower(trim(?)) "
            f"or source_id_hash = lower(trim(?)))",
            [customer, customer, customer],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def is_encrypted_file(path: Path) -> bool:
    """Whether DuckDB refuses to open the file without a key (no key material needed)."""
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as exc:
        return "encrypted" in str(exc).lower()
    return False
