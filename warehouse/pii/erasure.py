"""Right to erasure: ``crm-warehouse forget --customer <customer_key or e-mail>``.

What :func:`forget` does, in order:

1. Resolves the person to their customer keys and every source record (system, table, id)
   through ``intermediate.int_customer_identity_map`` (and the vault, for an e-mail).
2. Deletes every row about them from every schema of the build database: raw tables by their
   source ids (and the orders, lines, sessions, events, tickets, surveys hanging off them),
   every other table by ``customer_key``, source-id columns, record ids (the match evidence of
   ``int_customer_match_pairs`` too), or a text column containing one of their e-mails
   (quarantined ``_raw_record`` JSON, for instance). Bookkeeping keeps its rows but loses the
   person's values: ``raw_meta.quarantined_lines.raw_text`` holding them becomes NULL, and
   text in ``raw_meta`` and ``quality`` (failing record keys) naming them reads ``[erased]``.
3. Deletes their records from the PII vault.
4. Adds keyed hashes of every identifier of the person (e-mails, phones, source ids, loyalty
   numbers, their orders, sessions and tickets: :mod:`warehouse.pii.erased`) to
   ``privacy.erased_subjects``; the extractors quarantine a re-delivered row matching one as
   ``ERASED_SUBJECT`` without its values (:mod:`warehouse.extract.erased`). Writes an audit
   row without PII to ``privacy.erasure_audit``.
5. Rewrites the build database and the vault into fresh files (deleted rows otherwise linger
   in free blocks), republishes ``marts.duckdb`` + Parquet dropping every older version,
   removes what interrupted publications and DuckDB spills left behind (temp files hold the
   person too), and replaces the person's identifiers in derived text files (Data Docs, GX
   results, report) by ``[erased]``.
6. Verifies: searches the raw bytes of every file under the warehouse folder and the Dagster
   home, and every value of every table of every DuckDB file (the vault with its key) and
   Parquet file, for the person's e-mails, phones, names, distinctive source ids and customer
   keys. What is found is reported, never ignored (``forget`` then exits 1).

The source systems' folders (``CRMW_SOURCES_DIR``, the export directories, a SQLite ERP) are
neither changed nor searched, even when they lie inside the warehouse folder: the sources
still hold the person until they erase there too, and ``privacy.erased_subjects`` is what stops
the next extraction from bringing them back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.config import settings
from warehouse.connection import connect
from warehouse.filemodes import PRIVATE_FILE_MODE, set_mode
from warehouse.pii import erased as erased_list
from warehouse.pii.crypto import pseudonymize
from warehouse.pii.erased import ERASED_SUBJECTS, PRIVACY_SCHEMA
from warehouse.pii.vault import RECORDS_TABLE, open_vault, vault_path

ERASURE_AUDIT = f"{PRIVACY_SCHEMA}.erasure_audit"
# Schemas kept as they are: the erasure list and audit (hashes, no PII) and the catalogs.
UNTOUCHED_SCHEMAS = {PRIVACY_SCHEMA, "information_schema", "pg_catalog"}
# Bookkeeping whose rows stay (counts must still add up) but lose the person's values.
REDACTED_SCHEMAS = {"raw_meta", "quality"}
# Never deleted from, only redacted.
KEEP_ROWS_SCHEMAS = {"raw_meta"}
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
              "record_id_a": "record", "record_id_b": "record",  # int_customer_match_pairs
              "source_id": "source_id", "order_key": "order_key"}
# A numeric ERP member id inside JSON text (failing record keys {"member_id": 17}).
_JSON_MEMBER_ID = r'("(?:member_id|erp_member_id)"\s*:\s*"?){id}(?=["\s,}}\]])'


class SubjectNotFound(LookupError):
    """Nobody in the warehouse matches the given customer key or e-mail."""


@dataclass
class ErasureResult:
    request_id: str
    customer_keys: list[str]
    source_records: int
    rows_deleted: dict[str, int] = field(default_factory=dict)
    rows_redacted: dict[str, int] = field(default_factory=dict)
    identifiers_listed: int = 0  # hashes added to privacy.erased_subjects
    files_rewritten: list[str] = field(default_factory=list)
    files_redacted: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)  # publish/spill leftovers
    searched: list[str] = field(default_factory=list)  # folders the verification searched
    not_searched: list[str] = field(default_factory=list)  # the source systems' folders
    residual: list[str] = field(default_factory=list)  # "file: kind" where something remains
    already_erased: str | None = None  # request id of an earlier erasure of this subject

    @property
    def clean(self) -> bool:
        return not self.residual

    def summary(self) -> str:
        if self.already_erased:
            lines = [f"Already erased by {self.already_erased}: nothing of them is left to "
                     "delete; their re-deliveries are quarantined as ERASED_SUBJECT."]
        else:
            lines = [f"Erasure {self.request_id}: {len(self.customer_keys)} customer key(s), "
                     f"{self.source_records} source records, "
                     f"{sum(self.rows_deleted.values())} rows deleted in "
                     f"{len(self.rows_deleted)} tables, "
                     f"{sum(self.rows_redacted.values())} bookkeeping rows redacted, "
                     f"{self.identifiers_listed} identifier hashes listed; rewritten: "
                     + ", ".join(Path(f).name for f in self.files_rewritten)]
        if self.files_redacted:
            lines.append(f"Redacted derived files: {len(self.files_redacted)}")
        if self.files_removed:
            lines.append(f"Removed leftovers of interrupted publications and spills: "
                         f"{len(self.files_removed)}")
        searched = ", ".join(self.searched)
        lines.append(f"Verified: nothing of the person remains in {searched}."
                     if self.clean else "RESIDUAL DATA FOUND: " + "; ".join(self.residual))
        if self.not_searched:
            lines.append("Not searched, the source systems (erase the person there too): "
                         + ", ".join(self.not_searched))
        return "\n".join(lines)


@dataclass
class _Subject:
    customer_keys: set[str]
    records: set[tuple[str, str, str]]  # (source_system, source_table, source_id)
    emails: set[str]
    phones: set[str]
    names: set[str]
    # source ids that cannot be mistaken for other values (C0001234, SD-000123, M00001234,
    # erp:members:17): searched for like e-mails; all-digit ids are not (see redaction)
    distinctive_ids: set[str] = field(default_factory=set)

    def needles(self) -> set[str]:
        """Identifiers searched for afterwards (case-sensitive bytes and case-folded text)."""
        found = {e for e in self.emails if e} | {p for p in self.phones if p and len(p) >= 7}
        found |= {i for i in self.distinctive_ids | self.customer_keys if _distinctive(i)}
        return found | {n for n in self.names if n and len(n) >= 4}


def _distinctive(value: str | None) -> bool:
    return bool(value) and len(value) >= 4 and not value.isdigit()


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
        raise SubjectNotFound(f"no customer with key or e-mail {customer!r} in the warehouse; "
                              "nothing erased")
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


def _erased_identifiers(con, subject: _Subject, ids: dict[str, set[str]]) -> dict[str, set]:
    """Every identifier of the person for ``privacy.erased_subjects`` (before deleting)."""
    e = erased_list
    found: dict[str, set] = {
        e.EMAIL: set(subject.emails), e.PHONE: set(subject.phones),
        e.ERP_MEMBER: set(ids["erp_member"]), e.ECOMMERCE_CUSTOMER: set(ids["ecommerce_customer"]),
        e.SERVICE_CONTACT: set(ids["contact"]), e.SESSION: set(ids["session"]),
        e.TICKET: set(ids["ticket"]), e.LOYALTY_NO: set(), e.ERP_ORDER: set(),
        e.WEB_ORDER: set(),
    }

    def take(relation: str, column: str, match_column: str, values) -> set[str]:
        schema, table = relation.split(".")
        if not values or not _has_columns(con, schema, table, column, match_column):
            return set()
        return {r[0] for r in con.execute(
            f"select distinct {_q(column)}::varchar from {relation} where "
            f"list_contains(?, {_q(match_column)}::varchar) and {_q(column)} is not null",
            [sorted(values)]).fetchall()}

    found[e.LOYALTY_NO] |= take("raw_erp.members", "member_no", "member_id", ids["erp_member"])
    found[e.LOYALTY_NO] |= take("raw_ecommerce.customers", "loyalty_member_no", "customer_id",
                                ids["ecommerce_customer"])
    found[e.WEB_ORDER] |= take("raw_ecommerce.orders", "order_id", "customer_id",
                               ids["ecommerce_customer"])
    found[e.WEB_ORDER] |= take("raw_erp.sales_orders", "web_order_ref", "member_id",
                               ids["erp_member"])
    found[e.ERP_ORDER] |= take("raw_erp.sales_orders", "order_id", "member_id", ids["erp_member"])
    found[e.ERP_ORDER] |= take("raw_erp.sales_orders", "order_id", "web_order_ref",
                               found[e.WEB_ORDER])
    subject.distinctive_ids |= {i for kind in (e.ECOMMERCE_CUSTOMER, e.SERVICE_CONTACT,
                                               e.LOYALTY_NO, e.ERP_MEMBER)
                                for i in found[kind] if _distinctive(i)}
    subject.distinctive_ids |= {":".join(r) for r in subject.records}
    return found


def _table_columns(con, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = "
        "current_database() and schema_name = ? and table_name = ?", [schema, table]).fetchall()


def _delete_everywhere(con, subject: _Subject, ids: dict[str, set[str]]) -> dict[str, int]:
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() order by 1, 2").fetchall()
    deleted: dict[str, int] = {}
    emails = sorted(e.lower() for e in subject.emails)
    # (system, entity, id) of the person's records and transactions, for tables that name a
    # row by its source and primary key (quality.rejected_rows)
    composed = sorted(
        {":".join(r) for r in subject.records}
        | {f"erp:sales_orders:{i}" for i in ids.get("erp_order", ())}
        | {f"ecommerce:orders:{i}" for i in ids.get("web_order", ())}
        | {f"ecommerce:sessions:{i}" for i in ids["session"]}
        | {f"service_desk:tickets:{i}" for i in ids["ticket"]})
    for schema, table in tables:
        if schema in UNTOUCHED_SCHEMAS or schema in KEEP_ROWS_SCHEMAS:
            continue
        columns = _table_columns(con, schema, table)
        names = {c for c, _ in columns}
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
        if {"source", "entity", "record_id"} <= names:
            conditions.append("list_contains(?, source || ':' || entity || ':' || record_id)")
            params.append(composed)
        if not conditions:
            continue
        n = con.execute(f"delete from {_q(schema)}.{_q(table)} where "
                        + " or ".join(conditions), params).fetchone()[0]
        if n:
            deleted[f"{schema}.{table}"] = n
    return deleted


def _redaction_pattern(subject: _Subject, ids: dict[str, set[str]]) -> re.Pattern | None:
    """The person's identifiers in free text: e-mails, phones as typed, names, distinctive
    ids (case-insensitive, whole tokens) and numeric member ids under a member-id JSON key."""
    needles = sorted(subject.needles(), key=len, reverse=True)
    parts = [r"(?<![A-Za-z0-9])" + re.escape(n) + r"(?![A-Za-z0-9])" for n in needles]
    parts += [_JSON_MEMBER_ID.format(id=re.escape(i)) for i in sorted(ids["erp_member"])
              if i.isdigit()]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _redact(pattern: re.Pattern, text: str) -> str:
    # a member-id key keeps its key and quote: only the id itself is replaced
    return pattern.sub(
        lambda m: m.group(m.lastindex) + REDACTION if m.lastindex else REDACTION, text)


def _redact_bookkeeping(con, subject: _Subject, ids: dict[str, set[str]]) -> dict[str, int]:
    """Rows of ``raw_meta`` and ``quality`` stay (their counts must add up) but lose the
    person: a quarantined line naming them loses its raw text, other text reads [erased]."""
    pattern = _redaction_pattern(subject, ids)
    if pattern is None:
        return {}
    lowered = sorted({n.lower() for n in subject.needles()})
    member_ids = sorted(i for i in ids["erp_member"] if i.isdigit())
    redacted: dict[str, int] = {}
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = "
        "current_database() and list_contains(?, schema_name) order by 1, 2",
        [sorted(REDACTED_SCHEMAS)]).fetchall()
    for schema, table in tables:
        relation = f"{_q(schema)}.{_q(table)}"
        for column, data_type in _table_columns(con, schema, table):
            if data_type != "VARCHAR":
                continue
            col = _q(column)
            conditions = [f"contains(lower({col}), ?)" for _ in lowered]
            params: list = list(lowered)
            if member_ids:
                conditions.append(f"(contains({col}, 'member_id') and "
                                  f"len(list_intersect(regexp_extract_all({col}, "
                                  "'member_id\"\\s*:\\s*\"?([0-9]+)', 1), ?)) > 0)")
                params.append(member_ids)
            rows = con.execute(f"select rowid, {col} from {relation} where "
                               + " or ".join(conditions), params).fetchall()
            changed = 0
            for rowid, text in rows:
                new = (None if (schema, table, column) == ("raw_meta", "quarantined_lines",
                                                           "raw_text")
                       else _redact(pattern, text))
                if new != text:
                    con.execute(f"update {relation} set {col} = ? where rowid = ?", [new, rowid])
                    changed += 1
            if changed:
                key = f"{schema}.{table}.{column}"
                redacted[key] = redacted.get(key, 0) + changed
    return redacted


def _record_erasure(con, request_id: str, subject: _Subject, customer: str,
                    deleted: dict[str, int], requested_at: datetime,
                    identifiers: dict[str, set], key: bytes) -> int:
    erased_list.ensure_table(con)
    con.execute(f"""create table if not exists {ERASURE_AUDIT} (
        request_id varchar, requested_at timestamp, completed_at timestamp,
        subject_hash varchar, customer_key_count integer, source_record_count integer,
        rows_deleted json, verified_clean boolean, residual varchar)""")
    listed = erased_list.record(con, identifiers, request_id, key)
    con.execute(f"insert into {ERASURE_AUDIT} values (?, ?, null, ?, ?, ?, ?, null, null)",
                [request_id, requested_at.replace(tzinfo=None),
                 pseudonymize(customer.strip().lower(), key), len(subject.customer_keys),
                 len(subject.records), json.dumps(deleted)])
    return listed


def _earlier_erasure(con, customer: str, key: bytes) -> str | None:
    """The request id that erased ``customer`` (its e-mail or customer key) before, if any."""
    text = customer.strip().lower()
    if _relation_exists(con, PRIVACY_SCHEMA, ERASURE_AUDIT.split(".")[1]):
        row = con.execute(f"select max(request_id) from {ERASURE_AUDIT} where subject_hash = ?",
                          [pseudonymize(text, key)]).fetchone()
        if row[0]:
            return row[0]
    if "@" in text and erased_list.table_exists(con):
        row = con.execute(
            f"select max(request_id) from {ERASED_SUBJECTS} where identifier_kind = ? and "
            "source_id_hash = ?",
            [erased_list.EMAIL, erased_list.identifier_hash(erased_list.EMAIL, text, key)],
        ).fetchone()
        return row[0]
    return None


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
    set_mode(tmp, PRIVATE_FILE_MODE)  # the build database and the vault: owner only
    os.replace(tmp, path)
    Path(f"{path}.wal").unlink(missing_ok=True)


def _files_under(roots, exclude=()) -> list[Path]:
    """Every regular file under ``roots`` (sorted), not descending into ``exclude``."""
    excluded = {Path(p).resolve() for p in exclude}
    found = []
    for root in [roots] if isinstance(roots, str | Path) else roots:
        root = Path(root)
        if root.is_file():
            found.append(root)
            continue
        for top, dirs, files in os.walk(root):
            here = Path(top)
            dirs[:] = [d for d in dirs if (here / d).resolve() not in excluded]
            found += [here / f for f in files
                      if (here / f).is_file() and (here / f).resolve() not in excluded]
    return sorted(set(found))


def _redact_text_files(folder: Path, pattern: re.Pattern, skip: set[Path],
                       exclude=()) -> list[str]:
    redacted = []
    for path in _files_under(folder, exclude):
        if path.suffix.lower() not in TEXT_SUFFIXES or path in skip:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        new = _redact(pattern, text)
        if new != text:
            tmp = path.with_name(f".{path.name}.redact")
            tmp.write_text(new, encoding="utf-8")
            shutil.copymode(path, tmp)  # e.g. the report keeps the BI group's 0640
            os.replace(tmp, path)
            redacted.append(str(path))
    return redacted


def source_paths(cfg=None) -> list[Path]:
    """The source systems' folders and files (never changed, never searched by ``forget``)."""
    from warehouse.extract.erp import parse_erp_url

    cfg = cfg or settings()
    found = [cfg.sources_dir, cfg.ecommerce_dir, cfg.service_desk_dir]
    try:
        location = parse_erp_url(cfg.erp_url)
    except RuntimeError:  # an unsupported URL (ExtractionError): no local ERP file
        location = None
    if location is not None and location.kind == "sqlite":
        found += [Path(location.target + suffix) for suffix in ("", "-wal", "-journal")]
    return [Path(p) for p in found]


def remove_leftovers(build_path: Path) -> list[str]:
    """Files that hold copies of warehouse data but belong to no live database: what
    interrupted publications left (``warehouse.publish.remove_interrupted_publications``,
    under the publication lock), DuckDB spill files of the build database and the vault
    (``<database>.tmp/``) and copies of an interrupted :func:`rewrite_database`."""
    from warehouse.publish import (
        publication_lock,
        publication_paths,
        remove_interrupted_publications,
    )

    folder = build_path.parent
    paths = publication_paths(build_path)
    with publication_lock(paths):
        removed = [str(p) for p in remove_interrupted_publications(paths)]
    leftovers = [p for pattern in (".*.rewrite", ".*.rewrite.wal") for p in folder.glob(pattern)]
    for spill in (Path(f"{build_path}.tmp"), Path(f"{vault_path(build_path)}.tmp")):
        if spill.is_dir():
            leftovers += list(spill.iterdir())
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(str(path))
    return removed


def find_residue(folder, needles: set[str], *, vault_file: Path | None = None,
                 vault_key: str | None = None, exclude=()) -> list[str]:
    """Where the identifiers still appear: raw bytes of every file under ``folder`` (one folder
    or several; ``exclude``: folders and files not searched), and every value as text of every
    table of every DuckDB and Parquet file (compression can hide bytes, SQL cannot)."""
    found = []
    needles = {n for n in needles if n}
    if not needles:
        return found
    lowered = sorted({n.lower() for n in needles}, key=len, reverse=True)
    # whole tokens only: erp:members:7 is not found inside erp:members:70
    byte_pattern = re.compile(
        rb"(?<![A-Za-z0-9])(?:" + b"|".join(re.escape(n.encode()) for n in lowered)
        + rb")(?![A-Za-z0-9])", re.IGNORECASE)
    overlap = max(len(n.encode()) for n in needles) + 1
    for path in _files_under(folder, exclude):
        try:
            if _bytes_match(path, byte_pattern, overlap):
                found.append(f"{path}: bytes")
        except OSError as exc:
            found.append(f"{path}: could not be read ({exc})")
            continue
        if path.suffix == ".duckdb" or path.suffix == ".parquet":
            found += _sql_residue(path, lowered, vault_file, vault_key)
    return found


def _bytes_match(path: Path, pattern: re.Pattern, overlap: int,
                 block: int = 64 << 20) -> bool:
    """``pattern`` anywhere in the file, read in blocks (a build database or an event log can
    be larger than memory); consecutive blocks overlap by the longest needle."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            data = tail + chunk
            if pattern.search(data):
                return True
            tail = data[-overlap:]
    return False


def _catalog_alias(path: Path) -> str:
    """Attach a DuckDB file under its own name: views dbt created refer to their catalog by
    the file's stem (``"warehouse"."staging"...``), so any other alias cannot bind them."""
    stem = path.stem
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", stem) and stem.lower() not in {
            "memory", "system", "temp", "main"}:
        return stem
    return "searched_db"


def _re2_escape(text: str) -> str:
    return "".join("\\" + c if not c.isalnum() and c not in " _" and ord(c) < 128 else c
                   for c in text)


def _sql_residue(path: Path, lowered: list[str], vault_file, vault_key) -> list[str]:
    con = connect(":memory:")
    try:
        if path.suffix == ".parquet":
            relations = [(f"read_parquet('{path}')", str(path))]
            cols = con.execute(f"describe select * from read_parquet('{path}')").fetchall()
            columns = {str(path): [c[0] for c in cols]}
        else:
            alias = _catalog_alias(path)
            target = str(path).replace("'", "''")
            if vault_file is not None and path.resolve() == Path(vault_file).resolve():
                if not vault_key:
                    return [f"{path}: could not be searched (no vault key)"]
                key = vault_key.replace("'", "''")
                con.execute(f"attach '{target}' as {_q(alias)} "
                            f"(encryption_key '{key}', read_only)")
            else:
                con.execute(f"attach '{target}' as {_q(alias)} (read_only)")
            # tables only: a view holds no data of its own, and its text is a query
            rows = con.execute(
                "select c.schema_name, c.table_name, c.column_name from duckdb_columns() c "
                "join duckdb_tables() t using (database_name, schema_name, table_name) "
                "where c.database_name = ? order by c.schema_name, c.table_name, "
                "c.column_index", [alias]).fetchall()
            columns: dict[str, list[str]] = {}
            for schema, table, column in rows:
                columns.setdefault(f"{_q(alias)}.{_q(schema)}.{_q(table)}", []).append(column)
            relations = [(name, name) for name in columns]
        # RE2 has no look-behind: a token boundary is the start/end or a non-alphanumeric
        pattern = ("(^|[^a-z0-9])(" + "|".join(_re2_escape(n) for n in lowered)
                   + ")($|[^a-z0-9])")
        hits = []
        for relation, label in relations:
            cols = columns[label]
            text = " || chr(31) || ".join(f"coalesce(lower({_q(c)}::varchar), '')" for c in cols)
            if con.execute(f"select count(*) from {relation} where regexp_matches({text}, ?)",
                           [pattern]).fetchone()[0]:
                hits.append(f"{path} {label}: value")
        return hits
    except duckdb.Error as exc:
        return [f"{path}: could not be searched ({exc})"]
    finally:
        con.close()


def _verify(result: ErasureResult, needles: set[str], build_path: Path, vault_file: Path,
            vault_key: str | None) -> None:
    """The residue search of :func:`forget`: the warehouse folder and the Dagster home,
    without the source systems."""
    cfg = settings()
    sources = source_paths(cfg)
    roots = [build_path.parent]
    home = Path(cfg.dagster_home)
    if home.is_dir() and not home.resolve().is_relative_to(build_path.parent.resolve()):
        roots.append(home)
    result.searched = [str(r) for r in roots]
    result.not_searched = sorted({str(p) for p in sources if p.exists() and any(
        p.resolve().is_relative_to(r.resolve()) for r in roots)})
    result.residual = find_residue(roots, needles, vault_file=vault_file, vault_key=vault_key,
                                   exclude=sources)


def forget(customer: str, *, warehouse_path: Path | None = None, republish: bool = True,
           rebuild_report=None) -> ErasureResult:
    """Erase a person (by customer_key or e-mail) from every warehouse file. See module doc.

    ``rebuild_report`` is an optional callable run after republishing (the HTML report).
    Raises :class:`SubjectNotFound` when nobody matches (and nobody matching was erased
    before: then the result says so and only the verification runs) and
    :class:`FileNotFoundError` without a build database.
    """
    from warehouse.pii.keys import pseudonym_key
    from warehouse.pii.keys import vault_key as current_vault_key
    from warehouse.publish import PublishRefused, publication_paths, publish

    requested_at = datetime.now(UTC)
    build_path = Path(warehouse_path or settings().warehouse_path)
    if not build_path.exists():
        raise FileNotFoundError(f"no build database at {build_path}: nothing to erase from")
    folder = build_path.parent
    vault_file = vault_path(build_path)
    request_id = "erasure-" + uuid.uuid4().hex[:12]
    pkey = pseudonym_key()
    con = connect(build_path)
    try:
        try:
            subject = _resolve(con, customer, vault_file)
        except SubjectNotFound:
            earlier = _earlier_erasure(con, customer, pkey)
            if earlier is None:
                raise
            subject = None
        if subject is not None:
            ids = _collect_ids(con, subject)
            _collect_raw_identifiers(con, subject, ids)
            identifiers = _erased_identifiers(con, subject, ids)
            ids["erp_order"] = identifiers[erased_list.ERP_ORDER]
            ids["web_order"] = identifiers[erased_list.WEB_ORDER]
            deleted = _delete_everywhere(con, subject, ids)
            redacted = _redact_bookkeeping(con, subject, ids)
            listed = _record_erasure(con, request_id, subject, customer, deleted, requested_at,
                                     identifiers, pkey)
            con.execute("checkpoint")
    finally:
        con.close()
    key = current_vault_key(create=False) if vault_file.exists() else None
    if subject is None:  # erased before: say so, and check that nothing came back
        result = ErasureResult(request_id, [], 0, already_erased=earlier)
        text = customer.strip()
        _verify(result, {text} if "@" in text or _distinctive(text) else set(), build_path,
                vault_file, key)
        return result
    result = ErasureResult(request_id, sorted(subject.customer_keys), len(subject.records),
                           deleted, rows_redacted=redacted, identifiers_listed=listed)
    rewrite_database(build_path)
    result.files_rewritten.append(str(build_path))
    if vault_file.exists():
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
            shutil.rmtree(paths.parquet_root, ignore_errors=True)
        if rebuild_report is not None:
            rebuild_report()
    result.files_removed = remove_leftovers(build_path)
    needles = subject.needles()
    pattern = _redaction_pattern(subject, ids)
    if pattern is not None:
        result.files_redacted = _redact_text_files(folder, pattern, {build_path, vault_file},
                                                   exclude=source_paths())
    _verify(result, needles, build_path, vault_file, key)
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
