"""Where the two PII secrets come from: the vault key and the pseudonymization key.

Two secrets, kept apart on purpose:

* the **vault key** (``CRMW_PII_KEY``, or the file named by ``CRMW_PII_KEY_FILE``, default
  ``<warehouse dir>/pii.key``) opens ``pii.duckdb``, the only file holding full names, e-mails,
  phones, addresses and birth dates. Whoever holds it can read PII: the privacy officer and
  the pipeline's service account, nobody else.
* the **pseudonymization key** (``CRMW_PSEUDONYM_KEY``, or ``CRMW_PSEUDONYM_KEY_FILE``, default
  ``<warehouse dir>/pseudonym.key``) keys the HMAC-SHA256 that turns e-mails and phones into the
  stable identifiers BI sees. It lets the pipeline recognise the same person again; it does not
  reveal anyone. dbt reads it from the environment, so :func:`export_pseudonym_key` puts it
  there before dbt runs.

For the demo both are generated on first use (32 random bytes, file mode 0600) with a message
saying so; ``data/*.key`` is git-ignored. In production set the environment variables
from a secret manager and never create the files.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from warehouse.config import settings

VAULT_KEY_ENV = "CRMW_PII_KEY"
VAULT_KEY_FILE_ENV = "CRMW_PII_KEY_FILE"
PSEUDONYM_KEY_ENV = "CRMW_PSEUDONYM_KEY"
PSEUDONYM_KEY_FILE_ENV = "CRMW_PSEUDONYM_KEY_FILE"


class MissingKeyError(RuntimeError):
    """A key is neither in the environment nor in its key file, and may not be generated."""


def _key_file(env_name: str, default_name: str) -> Path:
    value = os.environ.get(env_name)
    if value:
        return Path(value).expanduser().resolve()
    return settings().warehouse_path.parent / default_name


def _read_or_create(path: Path, *, create: bool, purpose: str) -> str:
    if path.exists():
        text = path.read_text().strip()
        if not text:
            raise MissingKeyError(f"key file {path} ({purpose}) is empty")
        return text
    if not create:
        raise MissingKeyError(f"no {purpose}: key file {path} does not exist")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    try:
        os.link(tmp, path)  # fails if another process created it first: keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    print(
        f"crm-warehouse: generated a new {purpose} in {path} (demo only; outside git). "
        f"Keep it safe: without it the data it protects cannot be read or matched again.",
        file=sys.stderr,
    )
    return path.read_text().strip()


def vault_key(*, create: bool = True) -> str:
    """The secret that encrypts ``pii.duckdb`` (AES-256-GCM, key derived by DuckDB)."""
    value = os.environ.get(VAULT_KEY_ENV)
    if value:
        return value.strip()
    return _read_or_create(_key_file(VAULT_KEY_FILE_ENV, "pii.key"), create=create,
                           purpose=f"PII vault key (set {VAULT_KEY_ENV} to provide one)")


def pseudonym_key(*, create: bool = True) -> bytes:
    """The HMAC key for pseudonymized identifiers: 32 bytes, written as 64 hex digits."""
    value = os.environ.get(PSEUDONYM_KEY_ENV)
    if not value:
        value = _read_or_create(
            _key_file(PSEUDONYM_KEY_FILE_ENV, "pseudonym.key"), create=create,
            purpose=f"pseudonymization key (set {PSEUDONYM_KEY_ENV} to provide one)",
        )
    return parse_pseudonym_key(value.strip())


def parse_pseudonym_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"{PSEUDONYM_KEY_ENV} must be hex digits (e.g. 64 for 32 bytes)") from exc
    if not 16 <= len(key) <= 64:
        raise ValueError(f"{PSEUDONYM_KEY_ENV} must hold 16 to 64 bytes; got {len(key)}")
    return key


def export_pseudonym_key() -> str:
    """Put the pseudonymization key into ``os.environ`` for dbt (``env_var`` in the macros)."""
    key_hex = pseudonym_key().hex()
    os.environ[PSEUDONYM_KEY_ENV] = key_hex
    return key_hex
