"""The vault holds full PII encrypted (AES-256-GCM); without the key nothing can be read."""

import stat

import duckdb
import pytest
import serving_warehouse

from warehouse.pii import keys
from warehouse.pii.vault import fill_vault, is_encrypted_file, lookup, vault_cipher, vault_path


def test_vault_bytes_hold_no_pii_and_need_the_key(synthetic_warehouse):
    n = fill_vault(synthetic_warehouse)
    population = serving_warehouse.people()
    assert n == 3 * len(population)
    path = vault_path(synthetic_warehouse)
    data = path.read_bytes()
    # Positive control: the same search finds the e-mails in the unencrypted build file.
    build_bytes = synthetic_warehouse.read_bytes()
    assert sum(p.email.encode() in build_bytes for p in population) > len(population) // 2
    for p in population:
        for secret in (p.email, p.phone_e164, p.last_name + " Lane"):
            assert secret.encode() not in data, f"{secret!r} readable in {path}"
    assert b"Quarkenbusch" not in data and b"customer_records" not in data

    assert vault_cipher(path) == (True, "GCM")
    assert is_encrypted_file(path)
    with pytest.raises(duckdb.Error, match="without a key"):
        duckdb.connect(str(path), read_only=True)
    wrong = duckdb.connect()
    with pytest.raises(duckdb.Error):
        wrong.execute(f"attach '{path}' as v (encryption_key 'not-the-key', read_only)")
        wrong.execute("select count(*) from v.customer_records").fetchall()

    target = serving_warehouse.TARGET
    records = lookup(target.email.upper())
    assert {r["source_system"] for r in records} == {"erp", "ecommerce", "service_desk"}
    assert {r["email"] for r in records} == {target.email}


def test_fill_is_idempotent(synthetic_warehouse):
    first = fill_vault(synthetic_warehouse)
    assert fill_vault(synthetic_warehouse) == first
    assert len(lookup(serving_warehouse.TARGET.customer_key)) == 3


def test_demo_key_file_is_generated_once_and_private(pii_env, monkeypatch, capsys):
    monkeypatch.delenv(keys.VAULT_KEY_ENV)
    first = keys.vault_key()
    key_file = pii_env / "pii.key"
    assert key_file.exists() and "generated a new PII vault key" in capsys.readouterr().err
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keys.vault_key() == first and len(first) == 64
    monkeypatch.setenv(keys.VAULT_KEY_FILE_ENV, str(pii_env / "missing.key"))
    with pytest.raises(keys.MissingKeyError, match="missing.key"):
        keys.vault_key(create=False)


def test_missing_build_models_are_named(pii_env):
    con = duckdb.connect(str(pii_env / "warehouse.duckdb"))
    con.execute("create schema intermediate")
    con.close()
    with pytest.raises(LookupError, match="int_customer_records"):
        fill_vault(pii_env / "warehouse.duckdb")
