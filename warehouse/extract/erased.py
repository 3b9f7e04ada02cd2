"""Erased subjects stay out: a delivered row of an erased person is quarantined, valueless.

After ``crm-warehouse forget``, ``privacy.erased_subjects`` holds keyed hashes of every
identifier of the person (:mod:`warehouse.pii.erased`). The sources may still hold the person
and deliver them again: an ERP update with a newer ``updated_at``, a re-exported web account,
a service-desk contact, a new order or ticket. At the end of every batch, inside its
transaction (so nothing of such a row is ever committed), :func:`quarantine_erased_rows`

* hashes the distinct values of the batch's identifying columns (:data:`MATCH_COLUMNS`: the
  source id, e-mail, phone and loyalty number of the person tables; the customer, order,
  session and ticket references of the transaction tables, as ``forget`` deletes those too)
  and looks them up in the list;
* deletes the batch's rows that match and records each in ``raw_meta.quarantined_lines``
  with reason ``ERASED_SUBJECT``, its file (ERP: table) and record number, and **no raw
  text**; the file's ``rows_loaded`` / ``rows_quarantined`` in ``raw_meta.loaded_files`` and
  the batch's counts are corrected, so rows read = loaded + quarantined still holds;
* adds the source id of a person row caught by its e-mail, phone or loyalty number (a new
  account of the erased person) to the list, so that account's orders stay out too.

An ERP row is read again while its ``updated_at`` equals the cursor; a keyed hash of its
(primary key, ``updated_at``) in ``raw_meta.erased_erp_rows`` keeps it from being
quarantined twice. Without erasures (no list) this costs one catalog lookup per batch.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa

from contracts.sources import SourceTable
from warehouse.extract.batch import BatchResult, QuarantinedLine
from warehouse.extract.bookkeeping import META_SCHEMA
from warehouse.extract.raw_tables import quote, raw_columns
from warehouse.pii import erased as erased_list
from warehouse.pii.crypto import pseudonymize_sql
from warehouse.pii.erased import (
    ECOMMERCE_CUSTOMER,
    EMAIL,
    ERP_MEMBER,
    ERP_ORDER,
    LOYALTY_NO,
    PHONE,
    SERVICE_CONTACT,
    SESSION,
    TICKET,
    WEB_ORDER,
)

REASON = "ERASED_SUBJECT"
IN_PYTHON = {EMAIL, PHONE}  # normalized in Python (warehouse.pii.erased.identifier_keys)
ERP_ROWS = f"{META_SCHEMA}.erased_erp_rows"

# (system, table) -> {column: identifier kinds its value may be}
MATCH_COLUMNS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("erp", "members"): {"member_id": (ERP_MEMBER,), "member_no": (LOYALTY_NO,),
                         "email": (EMAIL,), "phone": (PHONE,)},
    ("erp", "sales_orders"): {"order_id": (ERP_ORDER,), "member_id": (ERP_MEMBER,),
                              "web_order_ref": (WEB_ORDER,)},
    ("erp", "sales_order_lines"): {"order_id": (ERP_ORDER,)},
    ("erp", "returns"): {"order_id": (ERP_ORDER,)},
    ("ecommerce", "customers"): {"customer_id": (ECOMMERCE_CUSTOMER,), "email": (EMAIL,),
                                 "phone": (PHONE,), "loyalty_member_no": (LOYALTY_NO,)},
    ("ecommerce", "sessions"): {"session_id": (SESSION,), "customer_id": (ECOMMERCE_CUSTOMER,)},
    ("ecommerce", "events"): {"session_id": (SESSION,), "customer_id": (ECOMMERCE_CUSTOMER,),
                              "order_id": (WEB_ORDER,)},
    ("ecommerce", "orders"): {"order_id": (WEB_ORDER,), "customer_id": (ECOMMERCE_CUSTOMER,),
                              "session_id": (SESSION,)},
    ("ecommerce", "reviews"): {"customer_id": (ECOMMERCE_CUSTOMER,)},
    ("service_desk", "contacts"): {"contact_id": (SERVICE_CONTACT,), "email": (EMAIL,),
                                   "phone": (PHONE,)},
    ("service_desk", "tickets"): {"ticket_id": (TICKET,), "contact_id": (SERVICE_CONTACT,),
                                  "order_ref": (ERP_ORDER, WEB_ORDER)},
    ("service_desk", "surveys"): {"ticket_id": (TICKET,), "contact_id": (SERVICE_CONTACT,)},
}


def _key() -> bytes:
    from warehouse.pii.keys import pseudonym_key

    return pseudonym_key(create=False)


def quarantine_erased_rows(con, table: SourceTable, batch: BatchResult) -> int:
    """Move the batch's rows of erased subjects out of the raw table (see the module doc);
    return how many were removed. The caller holds the batch's transaction."""
    wanted = MATCH_COLUMNS.get((table.system, table.name))
    if not wanted:
        return 0
    erased = erased_list.load(con, _key)
    if not erased:
        return 0
    present = {c.lower(): c for c in raw_columns(con, table)}
    raw = table.qualified_raw_name
    hits: dict[str, list[str]] = {}
    for column, kinds in wanted.items():
        name = present.get(column)
        listed = [k for k in kinds if k in erased.kinds()]
        if name is None or not listed:
            continue
        matched = _matching_values(con, raw, name, listed, erased, batch.batch_id)
        if matched:
            hits[name] = matched
    if not hits:
        return 0
    where = " OR ".join(f"list_contains(?, {quote(c)})" for c in hits)
    params = [batch.batch_id, *hits.values()]
    _learn_new_accounts(con, table, where, params, erased)
    is_erp = table.system == "erp"
    extra = ""
    if is_erp:
        extra = ", " + ", ".join(f"{quote(present.get(c.lower(), c))}::VARCHAR"
                                 for c in (*table.primary_key, table.updated_at))
    removed = con.execute(
        f"DELETE FROM {raw} WHERE _batch_id = ? AND ({where}) "
        f"RETURNING _source_object, _source_row_number{extra}", params).fetchall()
    fresh = _new_erp_rows(con, table, removed, erased.key, batch) if is_erp else removed
    lines = [QuarantinedLine(obj, int(n), REASON, None)
             for obj, n, *_ in sorted(fresh, key=lambda r: (r[0], r[1]))]
    _record(con, table, batch, lines, removed=len(removed))
    return len(removed)


def _record(con, table: SourceTable, batch: BatchResult, lines: list[QuarantinedLine], *,
            removed: int) -> None:
    """Quarantine rows (no raw text) and corrected counts for the removed rows."""
    if lines:
        con.executemany(
            f"INSERT INTO {META_SCHEMA}.quarantined_lines (source_system, source_table, "
            "file_path, line_number, reason, raw_text, batch_id, quarantined_at) "
            "VALUES (?, ?, ?, ?, ?, NULL, ?, ?::TIMESTAMP)",
            [[table.system, table.name, q.file_path, q.line_number, q.reason, batch.batch_id,
              batch.extracted_at] for q in lines])
    if table.system != "erp":
        per_file: dict[str, int] = {}
        for q in lines:
            per_file[q.file_path] = per_file.get(q.file_path, 0) + 1
        con.executemany(
            f"UPDATE {META_SCHEMA}.loaded_files SET rows_loaded = rows_loaded - ?, "
            "rows_quarantined = rows_quarantined + ? WHERE batch_id = ? AND source_system = ? "
            "AND source_table = ? AND file_path = ?",
            [[n, n, batch.batch_id, table.system, table.name, path]
             for path, n in sorted(per_file.items())])
    batch.rows_loaded -= removed
    batch.quarantined.extend(lines)


def _matching_values(con, raw: str, column: str, kinds: list[str],
                     erased: erased_list.ErasedList, batch_id: str) -> list[str]:
    """The distinct values of ``column`` in the batch that are on the list as one of
    ``kinds``. E-mails and phones (person tables: few values, normalized in Python) are
    hashed in Python; source ids in DuckDB, so a first load's millions of distinct session
    ids never travel to Python."""
    col = quote(column)
    distinct = (f"SELECT DISTINCT {col} AS v FROM {raw} WHERE _batch_id = ? AND {col} IS NOT "
                "NULL")
    if set(kinds) & IN_PYTHON:
        values = [r[0] for r in con.execute(distinct, [batch_id]).fetchall()]
        return [v for v in values if any(erased.matches(k, v) for k in kinds)]
    kind_col, hash_col, legacy_col = [], [], []
    for kind in kinds:
        for legacy, hashes in ((False, erased.hashes.get(kind, ())),
                               (True, erased.legacy.get(kind, ()))):
            kind_col += [kind] * len(hashes)
            hash_col += sorted(hashes)
            legacy_col += [legacy] * len(hashes)
    con.register("_crmw_erased", pa.table({"kind": kind_col, "hash": hash_col,
                                           "legacy": pa.array(legacy_col, pa.bool_())}))
    try:
        conditions = []
        for kind in kinds:
            if erased.hashes.get(kind):
                digest = pseudonymize_sql(f"'{kind}:' || trim(v)", erased.key)
                conditions.append(f"{digest} IN (SELECT hash FROM _crmw_erased WHERE "
                                  f"kind = '{kind}' AND NOT legacy)")
            if erased.legacy.get(kind):
                conditions.append(f"{pseudonymize_sql('trim(v)', erased.key)} IN (SELECT hash "
                                  f"FROM _crmw_erased WHERE kind = '{kind}' AND legacy)")
        return [r[0] for r in con.execute(
            f"SELECT v FROM ({distinct}) WHERE trim(v) <> '' AND ({' OR '.join(conditions)})",
            [batch_id]).fetchall()]
    finally:
        con.unregister("_crmw_erased")


def _learn_new_accounts(con, table: SourceTable, where: str, params: list,
                        erased: erased_list.ErasedList) -> None:
    """A person row caught by e-mail, phone or loyalty number under a source id not on the
    list (a new account of the erased person): its id joins the list."""
    person = erased_list.PERSON_TABLES.get((table.system, table.name))
    if person is None:
        return
    id_column, kind = person
    ids = [r[0] for r in con.execute(
        f"SELECT DISTINCT {quote(id_column)} FROM {table.qualified_raw_name} "
        f"WHERE _batch_id = ? AND ({where}) AND {quote(id_column)} IS NOT NULL",
        params).fetchall()]
    new = [i for i in ids if not erased.matches(kind, i)]
    if new:
        erased_list.record(con, {kind: new}, request_id=f"extraction:{params[0]}",
                           key=erased.key)


def _new_erp_rows(con, table: SourceTable, removed: list[tuple], key: bytes,
                  batch: BatchResult) -> list[tuple]:
    """The removed ERP rows not quarantined before (a row at the cursor is read again)."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {ERP_ROWS} (source_table VARCHAR NOT NULL, "
                "row_hash VARCHAR NOT NULL, batch_id VARCHAR NOT NULL)")
    digests = [hmac.new(key, "\x1f".join(["erp-row", table.name, *(v or "" for v in rest)])
                        .encode(), hashlib.sha256).hexdigest() for _obj, _n, *rest in removed]
    seen = {r[0] for r in con.execute(
        f"SELECT row_hash FROM {ERP_ROWS} WHERE source_table = ? AND list_contains(?, row_hash)",
        [table.name, digests]).fetchall()}
    fresh, new_digests = [], []
    for row, digest in zip(removed, digests, strict=True):
        if digest not in seen:
            seen.add(digest)
            fresh.append(row)
            new_digests.append(digest)
    if new_digests:
        con.executemany(f"INSERT INTO {ERP_ROWS} VALUES (?, ?, ?)",
                        [[table.name, d, batch.batch_id] for d in new_digests])
    return fresh
