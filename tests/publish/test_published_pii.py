"""No text column of the published marts/ml/quality holds a raw e-mail, phone or name.

Compares every text value of the published file against the staged PII values of the build
(intermediate.int_customer_records): exact e-mails, E.164 phones, full names, last names.
"""

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parents[1] / "pii"))

import serving_warehouse  # noqa: E402

from warehouse.publish import publish  # noqa: E402


def test_published_text_columns_hold_no_raw_pii(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMW_PSEUDONYM_KEY", "5e" * 32)
    build = tmp_path / "warehouse.duckdb"
    serving_warehouse.build(build, key=bytes.fromhex("5e" * 32))
    result = publish(build)
    con = duckdb.connect()
    con.execute(f"attach '{build}' as b (read_only)")
    con.execute(f"attach '{result.database}' as p (read_only)")
    con.execute("""create temp table pii as
        select distinct lower(v) as v from b.intermediate.int_customer_records,
        unnest([email, phone_e164, full_name, last_name, street]) t(v) where v is not null""")
    assert con.execute("select count(*) from pii").fetchone()[0] > 100
    columns = con.execute("""select schema_name, table_name, column_name from duckdb_columns()
        where database_name = 'p' and data_type = 'VARCHAR'""").fetchall()
    assert len(columns) >= 5
    leaks = []
    for schema, table, column in columns:
        n = con.execute(f'select count(*) from p."{schema}"."{table}" t join pii '
                        f'on lower(t."{column}") = pii.v').fetchone()[0]
        if n:
            leaks.append(f"{schema}.{table}.{column}: {n}")
    assert leaks == []
    # The scan can fail: a raw e-mail in a published column is found.
    leaked = con.execute("select count(*) from b.marts.dim_customer d join pii "
                         "on lower(d.email_masked) = pii.v").fetchone()[0]
    assert leaked == 0
    con.close()
