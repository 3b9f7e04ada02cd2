"""Right to erasure: ``crm-warehouse forget --customer <customer_key or e-mail>``.

What :func:`forget` does, in order:

1. Resolves the person to their customer keys and every source record (system, table, id)
   through ``intermediate.int_customer_identity_map`` (and the vault, for an e-mail).
2. Deletes every row about them from every schema of the build database: raw tables by their
   source ids (and the orders, lines, sessions, events, tickets, surveys hanging off them),
   every other table by ``customer_key``, source-id columns, record ids, or a text column
   containing one of their e-mails (quarantined ``_raw_record`` JSON, for instance).
3. Deletes their records from the PII vault.
4. Adds their source ids, as keyed hashes, to ``privacy.erased_subjects`` so the next
   extraction or dbt run can leave them out (:func:`erased_filter_sql`), and writes an audit
   row without PII to ``privacy.erasure_audit``.
5. Rewrites the build database and the vault into fresh files (deleted rows otherwise linger
   in free blocks), republishes ``marts.duckdb`` + Parquet dropping every older version, and
   replaces the person's identifiers in derived text files (Data Docs, report) by ``[erased]``.
6. Verifies: searches the raw bytes of every file under the warehouse folder, and every text
   value of every DuckDB file (the vault with its key) and Parquet file, for the person's
   e-mails, phones and names. What is found is reported, never ignored.

Caveat for operators: the *source systems* still hold the person until they erase there too;
``privacy.erased_subjects`` is what stops a re-extraction from bringing them back.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.config import settings
from warehouse.connection import connect
from warehouse.pii.crypto import pseudonymize
from warehouse.pii.vault import RECORDS_TABLE, open_vault, vault_path

PRIVACY_SCHEMA = "privacy"
ERASED_SUBJECTS = f"{PRIVACY_SCHEMA}.erased_subjects"
ERASURE_AUDIT = f"{PRIVACY_SCHEMA}.erasure_audit"
# Schemas whose rows are bookkeeping without personal data: kept as they are.
UNTOUCHED_SCHEMAS = {PRIVACY_SCHEMA, "raw_meta", "information_schema", "pg_catalog"}
TEXT_SUFFIXES = {".html", ".htm", ".json", ".jsonl", ".csv", ".txt", ".md", ".yml", ".yaml",
                 ".xml", ".svg", ".log"}
REDACTION = "[erased]"

# Raw source tables: which column holds which kind of id (kinds collected in _collect_ids).
RAW_ID_COLUMNS = {
    "member_id": "erp_member", "customer_id": "ecommerce_customer", "contact_id": "contact",
    "order_id": "order", "web_order_ref": "order", "order_ref": "order",
    "session_id": "session", "ticket_id": "ticket",
}
# Columns outside raw that hold a source id (compared as text).
ID_COLUMNS = {**RAW_ID_COLUMNS, "customer_key": "customer_key", "record_id": "record",
              "source_id": "source_id", "order_key": "order_key"}


class SubjectNotFound(LookupError):
    """Nobody in the warehouse matches the given customer key or e-mail."""


@dataclass
class ErasureResult:
    request_id: str
    customer_keys: list[str]
    source_records: int
    rows_deleted: dict[str, int] = field(default_factory=dict)
    files_rewritten: list[str] = field(default_factory=list)
    files_redacted: list[str] = field(default_factory=list)
    residual: list[str] = field(default_factory=list)  # "file: kind" where something remains

    @property
    def clean(self) -> bool:
        return not self.residual

    def summary(self) -> str:
        lines = [f"Erasure {self.request_id}: {len(self.customer_keys)} customer key(s), "
                 f"{self.source_records} source records, "
                 f"{sum(self.rows_deleted.values())} rows deleted in "
                 f"{len(self.rows_deleted)} tables; rewritten: "
                 + ", ".join(Path(f).name for f in self.files_rewritten)]
        if self.files_redacted:
            lines.append(f"Redacted derived files: {len(self.files_redacted)}")
        lines.append("Verified: nothing of the person remains in the warehouse folder."
                     if self.clean else "RESIDUAL DATA FOUND: " + "; ".join(self.residual))
        return "\n".join(lines)


@dataclass
class _Subject:
    customer_keys: set[str]
    records: set[tuple[str, str, str]]  # (source_system, source_table, source_id)
    emails: set[str]
    phones: set[str]
    names: set[str]

    def needles(self) -> set[str]:
        """Identifiers searched for afterwards (case-sensitive bytes and case-folded text)."""
        found = {e for e in self.emails if e} | {p for p in self.phones if p and len(p) >= 7}
        return found | {n for n in self.names if n and len(n) >= 4}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relation_exists(con, schema: str, table: str) -> bool:
    return con.execute("select count(*) from duckdb_tables() where schema_name = ? and "
                       "table_name = ? and database_name = current_database()",
                       [schema, table]).fetchone()[0] > 0


def _has_columns(con, schema: str, table: str, *columns: str) -> bool:
    found = {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ?", [schema, table]).fetchall()}
    return set(columns) <= found


def _resolve(con, customer: str, vault_file: Path) -> _Subject:
    subject = customer.strip()
    keys: set[str] = set()
    if "@" in subject:
        if _relation_exists(con, "intermediate", "int_customer_records"):
            keys |= {r[0] for r in con.execute(
                "select m.customer_key from intermediate.int_customer_records r join "
                "intermediate.int_customer_identity_map m using (source_system, source_table, "
                "source_id) where lower(trim(r.email)) = lower(?)", [subject]).fetchall()}
        if vault_file.exists():
            with open_vault(vault_file, read_only=True) as vault:
                keys |= {r[0] for r in vault.execute(
                    f"select customer_key from {RECORDS_TABLE} where lower(trim(email)) = "
                    "lower(?)", [subject]).fetchall()}
    else:
        keys.add(subject)
    if not _relation_exists(con, "intermediate", "int_customer_identity_map"):
        raise SubjectNotFound("the build database has no intermediate.int_customer_identity_map;"
                              " build the dbt models first")
    records = set(con.execute(
        "select source_system, source_table, source_id from "
        "intermediate.int_customer_identity_map where list_contains(?, customer_key)",
        [sorted(keys)]).fetchall())
    if not records:
        raise SubjectNotFound(f"no customer with key or e-mail {customer!r} in the warehouse")
    subject_data = _Subject(keys, records, set(), set(), set())
    if "@" in subject:
        subject_data.emails.add(subject.lower())
    rows = []
    if _relation_exists(con, "intermediate", "int_customer_records"):
        rows += con.execute(
            "select email, phone_e164, first_name, last_name, full_name from "
            "intermediate.int_customer_records r where list_contains(?, source_system || ':' || "
            "source_table || ':' || source_id)",
            [[":".join(r) for r in records]]).fetchall()
    if vault_file.exists():
        with open_vault(vault_file, read_only=True) as vault:
            rows += vault.execute(
                f"select email, phone_e164, first_name, last_name, full_name from "
                f"{RECORDS_TABLE} where list_contains(?, customer_key)",
                [sorted(keys)]).fetchall()
    for email, phone, first, last, full in rows:
        subject_data.emails |= {email} if email else set()
        subject_data.phones |= {phone} if phone else set()
        subject_data.names |= {n for n in (full, f"{first or ''} {last or ''}".strip()) if n}
    return subject_data


def _collect_ids(con, subject: _Subject) -> dict[str, set[str]]:
    """Every id of the person, following orders, sessions and tickets in the raw layer."""
    ids: dict[str, set[str]] = {k: set() for k in set(ID_COLUMNS.values())}
    kind_of = {("erp", "members"): "erp_member", ("ecommerce", "customers"): "ecommerce_customer",
               ("service_desk", "contacts"): "contact"}
    for system, table, source_id in subject.records:
        ids[kind_of.get((system, table), "source_id")].add(source_id)
        ids["source_id"].add(source_id)
        ids["record"].add(f"{system}:{table}:{source_id}")
    ids["customer_key"] |= subject.customer_keys
    follow = [  # (raw table, column matched, kind matched, column collected, kind collected)
        ("raw_erp.sales_orders", "member_id", "erp_member", "order_id", "order"),
        ("raw_ecommerce.orders", "customer_id", "ecommerce_customer", "order_id", "order"),
        ("raw_erp.sales_orders", "web_order_ref", "order", "order_id", "order"),
        ("raw_ecommerce.sessions", "customer_id", "ecommerce_customer", "session_id", "session"),
        ("raw_service.tickets", "contact_id", "contact", "ticket_id", "ticket"),
    ]
    for relation, match_col, match_kind, take_col, take_kind in follow:
        schema, table = relation.split(".")
        if not ids[match_kind] or not _has_columns(con, schema, table, match_col, take_col):
            continue
        ids[take_kind] |= {r[0] for r in con.execute(
            f"select distinct {_q(take_col)}::varchar from {relation} "
            f"where list_contains(?, {_q(match_col)}::varchar)",
            [sorted(ids[match_kind])]).fetchall() if r[0] is not None}
    return ids


def _collect_raw_identifiers(con, subject: _Subject, ids: dict[str, set[str]]) -> None:
    """The person's e-mails, phones and names exactly as delivered (before deleting them), so
    the verification also searches for the typed forms, e.g. ``(555) 010-9876``."""
    raw_people = {("raw_erp", "members"): ("member_id", "erp_member"),
                  ("raw_ecommerce", "customers"): ("customer_id", "ecommerce_customer"),
                  ("raw_service", "contacts"): ("contact_id", "contact")}
    for (schema, table), (id_col, kind) in raw_people.items():
        if not ids[kind] or not _has_columns(con, schema, table, id_col):
            continue
        for field_name, bucket in (("email", subject.emails), ("phone", subject.phones),
                                   ("full_name", subject.names)):
            if _has_columns(con, schema, table, field_name):
                bucket |= {r[0].strip() for r in con.execute(
                    f"select distinct {_q(field_name)} from {schema}.{table} where "
                    f"list_contains(?, {_q(id_col)}::varchar) and {_q(field_name)} is not null",
                    [sorted(ids[kind])]).fetchall() if r[0] and r[0].strip()}
        if _has_columns(con, schema, table, "first_name", "last_name"):
            subject.names |= {f"{a.strip()} {b.strip()}" for a, b in con.execute(
                f"select distinct first_name, last_name from {schema}.{table} where "
                f"list_contains(?, {_q(id_col)}::varchar) and first_name is not null and "
                "last_name is not null", [sorted(ids[kind])]).fetchall()}


def _delete_everywhere(con, subject: _Subject, ids: dict[str, set[str]]) -> dict[str, int]:
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() order by 1, 2").fetchall()
    deleted: dict[str, int] = {}
    emails = sorted(e.lower() for e in subject.emails)
    for schema, table in tables:
        if schema in UNTOUCHED_SCHEMAS:
            continue
        columns = con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = "
            "current_database() and schema_name = ? and table_name = ?",
            [schema, table]).fetchall()
        conditions, params = [], []
        for column, data_type in columns:
            kind = (RAW_ID_COLUMNS if schema.startswith("raw_") else ID_COLUMNS).get(column)
            if kind and ids.get(kind):
                conditions.append(f"list_contains(?, {_q(column)}::varchar)")
                params.append(sorted(ids[kind]))
            if data_type.startswith(("VARCHAR", "JSON", "STRUCT", "MAP")) or "[]" in data_type:
                # Any text (or nested value rendered as text) containing one of their e-mails.
                for email in emails:
                    conditions.append(f"contains(lower({_q(column)}::varchar), ?)")
                    params.append(email)
        if not conditions:
            continue
        n = con.execute(f"delete from {_q(schema)}.{_q(table)} where "
                        + " or ".join(conditions), params).fetchone()[0]
        if n:
            deleted[f"{schema}.{table}"] = n
    return deleted


def _record_erasure(con, request_id: str, subject: _Subject, customer: str,
                    deleted: dict[str, int], requested_at: datetime) -> None:
    con.execute(f"create schema if not exists {PRIVACY_SCHEMA}")
    con.execute(f"""create table if not exists {ERASED_SUBJECTS} (
        source_system varchar, source_table varchar, source_id_hash varchar,
        request_id varchar, erased_at timestamp)""")
    con.execute(f"""create table if not exists {ERASURE_AUDIT} (
        request_id varchar, requested_at timestamp, completed_at timestamp,
        subject_hash varchar, customer_key_count integer, source_record_count integer,
        rows_deleted json, verified_clean boolean, residual varchar)""")
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(f"insert into {ERASED_SUBJECTS} values (?, ?, ?, ?, ?)",
                    [[system, table, pseudonymize(source_id), request_id, now]
                     for system, table, source_id in sorted(subject.records)])
    con.execute(f"insert into {ERASURE_AUDIT} values (?, ?, null, ?, ?, ?, ?, null, null)",
                [request_id, requested_at.replace(tzinfo=None),
                 pseudonymize(customer.strip().lower()), len(subject.customer_keys),
                 len(subject.records), json.dumps(deleted)])


def erased_filter_sql(source_system: str, source_table: str, id_expr: str) -> str:
    """A SQL predicate, true for rows whose id is NOT erased (for extractors and dbt staging).

    Example: ``where {erased_filter_sql('erp', 'members', 'member_id')}``. Needs the
    pseudonymization key; the extractor's connection must see ``privacy.erased_subjects``.
    """
    from warehouse.pii.crypto import pseudonymize_sql

    return (f"not exists (select 1 from {ERASED_SUBJECTS} e where e.source_system = "
            f"'{source_system}' and e.source_table = '{source_table}' and e.source_id_hash = "
            f"{pseudonymize_sql(f'({id_expr})::varchar')})")


def rewrite_database(path: Path, *, encryption_key: str | None = None) -> None:
    """Copy a DuckDB file into a fresh one and rename it over the original.

    Deleted rows leave their bytes in free blocks until overwritten; a fresh file written by
    ``COPY FROM DATABASE`` holds only live data. The caller must hold no connection to it.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.rewrite")
    con = connect(":memory:", extensions=("httpfs",) if encryption_key else ())
    try:
        if encryption_key:
            key = encryption_key.replace("'", "''")
            con.execute(f"attach '{path}' as old (encryption_key '{key}', read_only)")
            con.execute(f"attach '{tmp}' as new (encryption_key '{key}', "
                        "encryption_cipher 'GCM')")
        else:
            con.execute(f"attach '{path}' as old (read_only)")
            con.execute(f"attach '{tmp}' as new")
        con.execute("copy from database old to new")
        con.execute("detach old")
        con.execute("checkpoint new")
        con.execute("detach new")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, path)
    Path(f"{path}.wal").unlink(missing_ok=True)


def _redact_text_files(folder: Path, needles: set[str], skip: set[Path]) -> list[str]:
    redacted = []
    pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)),
                         re.IGNORECASE)
    for path in folder.rglob("*"):
        if not path.is_file() or path.suffix.lower() not in TEXT_SUFFIXES or path in skip:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        new = pattern.sub(REDACTION, text)
        if new != text:
            tmp = path.with_name(f".{path.name}.redact")
            tmp.write_text(new, encoding="utf-8")
            os.replace(tmp, path)
            redacted.append(str(path))
    return redacted


def find_residue(folder: Path, needles: set[str], *, vault_file: Path | None = None,
                 vault_key: str | None = None) -> list[str]:
    """Where the identifiers still appear: raw bytes of every file, and every value as text of
    every DuckDB and Parquet file (compression can hide bytes, SQL cannot)."""
    found = []
    lowered = [n.lower() for n in needles]
    byte_needles = {n.encode() for n in needles} | {n.lower().encode() for n in needles} | {
        n.upper().encode() for n in needles}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(b in data for b in byte_needles):
            found.append(f"{path}: bytes")
        if path.suffix == ".duckdb" or path.suffix == ".parquet":
            found += _sql_residue(path, lowered, vault_file, vault_key)
    return found


def _sql_residue(path: Path, lowered: list[str], vault_file, vault_key) -> list[str]:
    con = connect(":memory:")
    try:
        if path.suffix == ".parquet":
            relations = [(f"read_parquet('{path}')", str(path))]
            cols = con.execute(f"describe select * from read_parquet('{path}')").fetchall()
            columns = {str(path): [c[0] for c in cols]}
        else:
            if vault_file is not None and path.resolve() == Path(vault_file).resolve():
                if not vault_key:
                    return []
                key = vault_key.replace("'", "''")
                con.execute(f"attach '{path}' as db (encryption_key '{key}', read_only)")
            else:
                con.execute(f"attach '{path}' as db (read_only)")
            rows = con.execute("select schema_name, table_name, column_name from duckdb_columns()"
                               " where database_name = 'db'").fetchall()
            columns: dict[str, list[str]] = {}
            for schema, table, column in rows:
                columns.setdefault(f"db.{_q(schema)}.{_q(table)}", []).append(column)
            relations = [(name, name) for name in columns]
        hits = []
        for relation, label in relations:
            cols = columns[label]
            text = " || chr(31) || ".join(f"coalesce(lower({_q(c)}::varchar), '')" for c in cols)
            for needle in lowered:
                if con.execute(f"select count(*) from {relation} where contains({text}, ?)",
                               [needle]).fetchone()[0]:
                    hits.append(f"{path} {label}: value")
                    break
        return hits
    except duckdb.Error as exc:
        return [f"{path}: could not be searched ({exc})"]
    finally:
        con.close()


def forget(customer: str, *, warehouse_path: Path | None = None, republish: bool = True,
           rebuild_report=None) -> ErasureResult:
    """Erase a person (by customer_key or e-mail) from every warehouse file. See module doc.

    ``rebuild_report`` is an optional callable run after republishing (the HTML report).
    """
    from warehouse.pii.keys import vault_key as current_vault_key
    from warehouse.publish import PublishRefused, publication_paths, publish

    requested_at = datetime.now(UTC)
    build_path = Path(warehouse_path or settings().warehouse_path)
    if not build_path.exists():
        raise FileNotFoundError(f"no build database at {build_path}")
    folder = build_path.parent
    vault_file = vault_path(build_path)
    request_id = "erasure-" + uuid.uuid4().hex[:12]
    con = connect(build_path)
    try:
        subject = _resolve(con, customer, vault_file)
        ids = _collect_ids(con, subject)
        _collect_raw_identifiers(con, subject, ids)
        deleted = _delete_everywhere(con, subject, ids)
        _record_erasure(con, request_id, subject, customer, deleted, requested_at)
        con.execute("checkpoint")
    finally:
        con.close()
    result = ErasureResult(request_id, sorted(subject.customer_keys), len(subject.records),
                           deleted)
    rewrite_database(build_path)
    result.files_rewritten.append(str(build_path))
    key = None
    if vault_file.exists():
        key = current_vault_key(create=False)
        with open_vault(vault_file, key=key) as vault:
            n = vault.execute(
                f"delete from {RECORDS_TABLE} where list_contains(?, customer_key) or "
                "list_contains(?, source_system || ':' || source_table || ':' || source_id)",
                [sorted(subject.customer_keys), sorted(ids["record"])]).fetchone()[0]
            vault.execute("checkpoint vault")
        result.rows_deleted[f"vault.{RECORDS_TABLE}"] = n
        rewrite_database(vault_file, encryption_key=key)
        result.files_rewritten.append(str(vault_file))
    paths = publication_paths(build_path)
    if republish and (paths.database.exists() or paths.parquet_root.exists()):
        try:
            publish(build_path, paths, keep_parquet_versions=1)
            result.files_rewritten.append(str(paths.database))
        except PublishRefused:
            # Better no publication than one still holding the person.
            paths.database.unlink(missing_ok=True)
            import shutil

            shutil.rmtree(paths.parquet_root, ignore_errors=True)
        if rebuild_report is not None:
            rebuild_report()
    needles = subject.needles()
    skip = {build_path, vault_file}
    result.files_redacted = _redact_text_files(folder, needles, skip)
    result.residual = find_residue(folder, needles, vault_file=vault_file, vault_key=key)
    con = connect(build_path)
    try:
        con.execute(f"update {ERASURE_AUDIT} set completed_at = ?, verified_clean = ?, "
                    "residual = ? where request_id = ?",
                    [datetime.now(UTC).replace(tzinfo=None), result.clean,
                     "; ".join(r.replace(str(folder), "<warehouse>") for r in result.residual)
                     or None, request_id])
        con.execute("checkpoint")
    finally:
        con.close()
    return result
