"""The erased-subjects list: keyed hashes of every identifier of every erased person.

``crm-warehouse forget`` (:mod:`warehouse.pii.erasure`) writes one row per identifier of the
person into ``privacy.erased_subjects``; the extractors (:mod:`warehouse.extract.erased`) read
it on every batch, so a source that delivers the person again (an ERP update, a re-exported
web account, a service-desk contact, a new order of theirs) cannot bring them back.

Only keyed hashes are kept: HMAC-SHA256 with the pseudonymization key of
``"<kind>:<normalized identifier>"``. Without the key nobody can confirm a guessed e-mail
against the list, and the kind prefix keeps these hashes apart from the pseudonyms BI sees
(a leaked list cannot be joined to the publication). Identifier kinds:

* ``email``: trimmed, lower-case;
* ``phone``: the digits (an extension and a leading ``00`` dropped), also without the
  country prefix ``1`` (North America) or ``86`` (China), so ``+1 555 010 9876`` and
  ``(555) 010-9876`` are the same number; fewer than 7 digits is no phone;
* source ids as delivered (trimmed): ``erp_member`` (member_id), ``loyalty_no`` (member_no,
  also on web accounts), ``ecommerce_customer`` (customer_id), ``service_contact``
  (contact_id), and the person's transactions: ``erp_order``, ``web_order``, ``session``,
  ``ticket``.

Rows written before identifier kinds existed (``identifier_kind`` NULL) hold the plain HMAC
of a source id and are still honoured.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

PRIVACY_SCHEMA = "privacy"
ERASED_SUBJECTS = f"{PRIVACY_SCHEMA}.erased_subjects"

EMAIL, PHONE = "email", "phone"
ERP_MEMBER, LOYALTY_NO = "erp_member", "loyalty_no"
ECOMMERCE_CUSTOMER, SERVICE_CONTACT = "ecommerce_customer", "service_contact"
ERP_ORDER, WEB_ORDER, SESSION, TICKET = "erp_order", "web_order", "session", "ticket"
KINDS = (EMAIL, PHONE, ERP_MEMBER, LOYALTY_NO, ECOMMERCE_CUSTOMER, SERVICE_CONTACT, ERP_ORDER,
         WEB_ORDER, SESSION, TICKET)

# The person tables of the sources and the kind of their id.
PERSON_TABLES = {("erp", "members"): ("member_id", ERP_MEMBER),
                 ("ecommerce", "customers"): ("customer_id", ECOMMERCE_CUSTOMER),
                 ("service_desk", "contacts"): ("contact_id", SERVICE_CONTACT)}
# Where an identifier kind is a source id: (source_system, source_table) recorded with it.
KIND_SOURCE = {ERP_MEMBER: ("erp", "members"), LOYALTY_NO: ("erp", "members"),
               ECOMMERCE_CUSTOMER: ("ecommerce", "customers"),
               SERVICE_CONTACT: ("service_desk", "contacts"),
               ERP_ORDER: ("erp", "sales_orders"), WEB_ORDER: ("ecommerce", "orders"),
               SESSION: ("ecommerce", "sessions"), TICKET: ("service_desk", "tickets")}
# Rows of the old layout (no identifier_kind): the kind their (system, table) meant.
_LEGACY_KIND = {source: kind for source, (_, kind) in PERSON_TABLES.items()}

_EXTENSION = re.compile(r"\s*(ext\.?|x|#)\s*\d+$")
_NANP = re.compile(r"1[2-9]\d{9}")


def phone_keys(value: str) -> set[str]:
    """The forms a phone number is compared in (see the module doc)."""
    digits = re.sub(r"[^0-9]", "", _EXTENSION.sub("", value.strip().lower())).lstrip("0")
    if len(digits) < 7:
        return set()
    keys = {digits}
    if _NANP.fullmatch(digits):
        keys.add(digits[1:])
    if digits.startswith("86") and len(digits) in (12, 13):
        keys.add(digits[2:])
    return keys


def identifier_keys(kind: str, value: object) -> set[str]:
    """Normalized forms of ``value`` as an identifier of ``kind`` (empty: not one)."""
    if value is None:
        return set()
    text = str(value).strip()
    if not text:
        return set()
    if kind == EMAIL:
        return {text.lower()} if "@" in text else set()
    if kind == PHONE:
        return phone_keys(text)
    return {text}


def identifier_hash(kind: str, normalized: str, key: bytes) -> str:
    return hmac.new(key, f"{kind}:{normalized}".encode(), hashlib.sha256).hexdigest()


def ensure_table(con) -> None:
    con.execute(f"create schema if not exists {PRIVACY_SCHEMA}")
    con.execute(f"""create table if not exists {ERASED_SUBJECTS} (
        source_system varchar, source_table varchar, source_id_hash varchar,
        request_id varchar, erased_at timestamp, identifier_kind varchar)""")
    con.execute(f"alter table {ERASED_SUBJECTS} add column if not exists identifier_kind varchar")


def record(con, identifiers: dict[str, Iterable[str]], request_id: str, key: bytes,
           erased_at: datetime | None = None) -> int:
    """Add the hashes of ``identifiers`` ({kind: values}) not yet on the list; return how many."""
    ensure_table(con)
    erased_at = (erased_at or datetime.now(UTC)).replace(tzinfo=None)
    present = {(k, h) for k, h in con.execute(
        f"select identifier_kind, source_id_hash from {ERASED_SUBJECTS} "
        "where identifier_kind is not null").fetchall()}
    rows = []
    for kind in sorted(identifiers):
        system, table = KIND_SOURCE.get(kind, (None, None))
        for normalized in sorted({n for v in identifiers[kind] for n in identifier_keys(kind, v)}):
            digest = identifier_hash(kind, normalized, key)
            if (kind, digest) not in present:
                present.add((kind, digest))
                rows.append([system, table, digest, request_id, erased_at, kind])
    if rows:
        con.executemany(f"insert into {ERASED_SUBJECTS} (source_system, source_table, "
                        "source_id_hash, request_id, erased_at, identifier_kind) "
                        "values (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


@dataclass
class ErasedList:
    """The hashes on the list, by kind, and the test whether a delivered value is on it."""

    key: bytes
    hashes: dict[str, set[str]] = field(default_factory=dict)
    legacy: dict[str, set[str]] = field(default_factory=dict)  # plain HMAC of a source id

    def __bool__(self) -> bool:
        return any(self.hashes.values()) or any(self.legacy.values())

    def kinds(self) -> set[str]:
        return {k for k, v in self.hashes.items() if v} | {k for k, v in self.legacy.items() if v}

    def matches(self, kind: str, value: object) -> bool:
        current = self.hashes.get(kind)
        if current and any(identifier_hash(kind, n, self.key) in current
                           for n in identifier_keys(kind, value)):
            return True
        legacy = self.legacy.get(kind)
        return bool(legacy) and any(
            hmac.new(self.key, n.encode(), hashlib.sha256).hexdigest() in legacy
            for n in identifier_keys(kind, value))


def table_exists(con) -> bool:
    return con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() and "
        "schema_name = ? and table_name = ?",
        [PRIVACY_SCHEMA, ERASED_SUBJECTS.split(".")[1]]).fetchone()[0] > 0


def load(con, key_provider) -> ErasedList | None:
    """The list in the database ``con`` is connected to; None when nobody was ever erased.

    ``key_provider()`` returns the pseudonymization key; it is only called when the list has
    rows, so extracting into a warehouse without erasures needs no key.
    """
    if not table_exists(con):
        return None
    columns = {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [PRIVACY_SCHEMA, ERASED_SUBJECTS.split(".")[1]]).fetchall()}
    kind_expr = "identifier_kind" if "identifier_kind" in columns else "null::varchar"
    rows = con.execute(f"select {kind_expr}, source_system, source_table, source_id_hash "
                       f"from {ERASED_SUBJECTS} where source_id_hash is not null").fetchall()
    if not rows:
        return None
    erased = ErasedList(key_provider())
    for kind, system, table, digest in rows:
        if kind is not None:
            erased.hashes.setdefault(kind, set()).add(digest)
        elif (system, table) in _LEGACY_KIND:
            erased.legacy.setdefault(_LEGACY_KIND[(system, table)], set()).add(digest)
    return erased
