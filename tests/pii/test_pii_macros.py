"""The dbt PII macros, run by real dbt on DuckDB, agree with their Python twins.

A throwaway dbt project holds only ``dbt_project/macros/pii`` and one model over sample values,
so the test exercises the shipped macros without depending on the rest of the dbt project.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from warehouse.config import REPO_ROOT
from warehouse.pii import crypto, keys

SAMPLES = [
    ("john.smith@example.com", "+1 (555) 123-4567"),
    ("  Zhang.Wei@Example.CN ", "+86 138 1234 5678"),
    ("no-at-sign.example.com", "555-1234"),
    ("@nolocal.com", "12"),
    ("ü@bücher.de", "+44 20 7946 0958"),
    ("a@b.co", "020 7946 0958"),
    (None, None),
]


def _sql_literal(value):
    return "null::varchar" if value is None else "'" + value.replace("'", "''") + "'"


@pytest.fixture
def macro_project(tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(REPO_ROOT / "dbt_project" / "macros" / "pii", project / "macros" / "pii")
    (project / "models").mkdir()
    (project / "dbt_project.yml").write_text(textwrap.dedent("""\
        name: pii_macro_test
        version: "1.0.0"
        config-version: 2
        profile: pii_macro_test
        models:
          pii_macro_test:
            +materialized: table
    """))
    (project / "profiles.yml").write_text(textwrap.dedent(f"""\
        pii_macro_test:
          target: t
          outputs:
            t:
              type: duckdb
              path: "{tmp_path / 'macro.duckdb'}"
              threads: 1
    """))
    rows = " union all ".join(
        f"select {i} as i, {_sql_literal(e)} as email, {_sql_literal(p)} as phone"
        for i, (e, p) in enumerate(SAMPLES)
    )
    (project / "models" / "masked.sql").write_text(
        f"with s as ({rows})\n"
        "select i, {{ pseudonymize('email') }} as email_hash,\n"
        "       {{ mask_email('email') }} as email_masked,\n"
        "       {{ mask_phone('phone') }} as phone_masked\nfrom s\n"
    )
    return project, tmp_path / "macro.duckdb"


def _read(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _run_dbt(project, key_hex):
    """dbt in its own process, as the pipeline runs it (and so it releases the file)."""
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    env[keys.PSEUDONYM_KEY_ENV] = key_hex
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run([str(dbt), "run", "--project-dir", str(project), "--profiles-dir",
                           str(project), "--log-path", str(project / "logs"),
                           "--target-path", str(project / "target")],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_macros_match_python(macro_project):
    project, db = macro_project
    key = bytes(range(100, 132))
    _run_dbt(project, key.hex())
    got = _read(db, "select i, email_hash, email_masked, phone_masked from main.masked "
                    "order by i")
    assert len(got) == len(SAMPLES)
    for (i, email_hash, email_masked, phone_masked), (email, phone) in zip(got, SAMPLES,
                                                                             strict=True):
        assert email_hash == crypto.pseudonymize(email, key), (i, email)
        assert email_masked == crypto.mask_email(email), (i, email)
        assert phone_masked == crypto.mask_phone(phone), (i, phone)


def test_pseudonym_depends_on_key(macro_project):
    project, db = macro_project
    _run_dbt(project, "ab" * 32)
    first = _read(db, "select email_hash from main.masked where i = 0")[0][0]
    assert first == crypto.pseudonymize(SAMPLES[0][0], bytes.fromhex("ab" * 32))
    assert first != crypto.pseudonymize(SAMPLES[0][0], bytes.fromhex("cd" * 32))


def test_masks_hide_the_value():
    assert crypto.mask_email("john.smith@example.com") == "j***@example.com"
    assert crypto.mask_phone("+1 (555) 123-4567") == "+1******4567"
    assert crypto.mask_phone("+86 138 1234 5678") == "+86*******5678"
    assert crypto.mask_email("not-an-email") == "***"
    assert crypto.mask_phone("12345") == "***"
