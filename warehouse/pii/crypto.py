"""Pseudonymization and masking in Python: the reference the dbt macros are tested against.

``dbt_project/macros/pii/pii.sql`` does the same in SQL inside DuckDB (set-based, so the marts
never leave the database for hashing). Both must agree byte for byte: a pseudonym computed by
the erasure tool in Python has to find the rows dbt wrote. ``tests/pii/test_pii_macros.py`` runs the
macros through dbt and compares them with these functions.

* :func:`pseudonymize` is HMAC-SHA256 with the pseudonymization key (hex digest). Unlike a
  plain hash, nobody without the key can confirm a guessed e-mail by hashing it.
* :func:`mask_email` keeps the first character and the domain: ``j***@example.com``.
* :func:`mask_phone` keeps the country prefix and the last four digits: ``+1******4567``.
  Anything too short to mask safely becomes ``***``; nothing unmasked ever passes through.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from warehouse.pii.keys import pseudonym_key

_COUNTRY_PREFIX = re.compile(r"^\+(1|86|\d{2})")


def hmac_pads(key: bytes) -> tuple[str, str]:
    """HMAC's inner and outer padded keys as hex, for the SQL form of HMAC-SHA256."""
    if len(key) > 64:
        raise ValueError("HMAC-SHA256 keys longer than 64 bytes are not supported here")
    padded = key.ljust(64, b"\0")
    return (bytes(b ^ 0x36 for b in padded).hex(), bytes(b ^ 0x5C for b in padded).hex())


def pseudonymize(value: str | None, key: bytes | None = None) -> str | None:
    """HMAC-SHA256 of ``value`` (UTF-8) under the pseudonymization key, as 64 hex digits."""
    if value is None:
        return None
    key = key if key is not None else pseudonym_key()
    return hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonymize_sql(expr: str, key: bytes | None = None) -> str:
    """The DuckDB expression computing :func:`pseudonymize` of ``expr`` (same as the macro)."""
    ipad, opad = hmac_pads(key if key is not None else pseudonym_key())
    return (
        f"case when ({expr}) is not null then sha256(unhex('{opad}') || "
        f"unhex(sha256(unhex('{ipad}') || encode(({expr})::varchar)))) end"
    )


def mask_email(value: str | None) -> str | None:
    """``john.smith@example.com`` -> ``j***@example.com``; no ``@`` -> ``***``."""
    if value is None:
        return None
    text = value.strip()
    if "@" not in text or text.startswith("@"):
        return "***"
    domain = text.rsplit("@", 1)[1]
    return f"{text[0]}***@{domain}"


def mask_phone(value: str | None) -> str | None:
    """``+1 (555) 123-4567`` -> ``+1******4567``; fewer than 7 digits -> ``***``."""
    if value is None:
        return None
    text = value.strip()
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) < 7:
        return "***"
    match = _COUNTRY_PREFIX.match("+" + digits) if text.startswith("+") else None
    prefix = match.group(1) if match else ""
    hidden = len(digits) - len(prefix) - 4
    return ("+" if prefix else "") + prefix + "*" * hidden + digits[-4:]
