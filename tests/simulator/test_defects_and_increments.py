"""Defect rates as configured, incremental days, and the ERP in PostgreSQL and MariaDB."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import uuid
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from simulator import erp as erp_db
from simulator.config import SimConfig
from simulator.world import continue_days, simulate
from tests.simulator.conftest import SMALL, source_hashes


def within(observed: int, n: int, rate: float, sigmas: float = 4.0) -> bool:
    """Binomial tolerance: observed count within ``sigmas`` standard deviations of n * rate."""
    sd = np.sqrt(n * rate * (1 - rate))
    return abs(observed - n * rate) <= sigmas * sd + 1


def test_defect_rates_in_truth_and_data(noisy_world):
    out, rates = noisy_world
    defects = pd.read_parquet(out / "_truth" / "defects.parquet")
    con = sqlite3.connect(out / "erp" / "erp.sqlite")
    members = pd.read_sql("SELECT * FROM members", con)
    lines = pd.read_sql("SELECT * FROM sales_order_lines", con)
    con.close()
    # e-mail noise: measured from the data (case or whitespace differs from the clean form)
    emails = members["email"].dropna()
    noisy = (emails != emails.str.strip().str.lower()).sum()
    assert within(noisy, len(emails), rates.email_noise)
    truth_noise = defects.query("table == 'members' and defect_type == 'email_noise'")
    assert len(truth_noise) == noisy
    # negative quantities
    neg = (lines["quantity"] < 0).sum()
    assert within(neg, len(lines), rates.negative_quantity)
    assert neg == len(defects.query("table == 'sales_order_lines' and "
                                    "defect_type == 'negative_quantity'"))
    # name typos on members (first or last name)
    typos = defects.query("table == 'members' and defect_type == 'name_typo'")
    assert within(len(typos), len(members), rates.name_typo)
    # exact duplicate lines in the event files, and the truth names each one
    dup_lines, n_lines = 0, 0
    for f in (out / "ecommerce" / "events").glob("events_????-??-??.jsonl.gz"):
        with gzip.open(f, "rt") as fh:
            lines_f = fh.read().splitlines()
        n_lines += len(lines_f)
        dup_lines += sum(c - 1 for c in Counter(lines_f).values())
    assert within(dup_lines, n_lines - dup_lines, rates.duplicate_row)
    assert dup_lines == len(defects.query("table == 'events' and defect_type == 'duplicate_row'"))
    # late arrivals: the event's date is before its file's date
    late = defects.query("table == 'events' and defect_type == 'late_arrival'")
    assert len(late) > 0
    sample = late.iloc[0]
    with gzip.open(out / sample["file"], "rt") as fh:
        row = fh.read().splitlines()[int(sample["line"]) - 1]
    assert sample["record_id"] in row
    assert row.split('"event_ts":"')[1][:10] < sample["file"][-19:-9]


def test_redeliveries_are_identical_bytes(noisy_world):
    out, _ = noisy_world
    import json

    manifest = json.loads((out / "_truth" / "manifest.json").read_text())
    redelivered = [f for f in manifest["files"] if f["redelivery_of"]]
    assert redelivered
    for f in redelivered:
        assert (out / f["file"]).read_bytes() == (out / f["redelivery_of"]).read_bytes()


def test_continue_days_adds_only_new_days(small_world, tmp_path):
    out = tmp_path / "inc"
    shutil.copytree(small_world, out)
    before = source_hashes(out)
    con = sqlite3.connect(out / "erp" / "erp.sqlite")
    old_orders = dict(con.execute("SELECT order_id, updated_at FROM sales_orders").fetchall())
    con.close()
    continue_days(out, 7, verbose=False)
    after = source_hashes(out)
    for name, h in before.items():
        if name.startswith(("ecommerce/", "service_desk/")):
            assert after[name] == h, f"{name} changed"
    new_files = [n for n in after if n not in before]
    assert new_files
    for n in new_files:
        day = n.rsplit("_", 1)[-1][:10] if "_redelivery" not in n else n.split("_")[-2]
        assert "2025-01-30" <= day <= "2025-02-05", n
    con = sqlite3.connect(out / "erp" / "erp.sqlite")
    rows = con.execute("SELECT order_id, updated_at FROM sales_orders").fetchall()
    members = con.execute("SELECT count(*), max(updated_at) FROM members").fetchone()
    con.close()
    changed = [(oid, u) for oid, u in rows if old_orders.get(oid) != u]
    assert changed, "no new ERP orders"
    assert all(u >= "2025-01-30" for _, u in changed)
    assert members[1] >= "2025-01-30"
    truth = pd.read_parquet(out / "_truth" / "person_records.parquet")
    assert truth.duplicated(["source_table", "source_id"]).sum() == 0


def _postgres_url(db: str) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"


@pytest.mark.postgres
def test_erp_in_postgres_matches_sqlite(small_world, tmp_path):
    sa = pytest.importorskip("sqlalchemy")
    admin = sa.create_engine(_postgres_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 unreachable: {e}")
    db = f"crmw_sim_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{db}"'))
    try:
        simulate(SimConfig(out_dir=tmp_path / "pg", seed=42, erp_url=_postgres_url(db), **SMALL))
        sqlite_counts = erp_db.row_counts(f"sqlite:///{small_world / 'erp' / 'erp.sqlite'}")
        assert erp_db.row_counts(_postgres_url(db)) == sqlite_counts
        assert not (tmp_path / "pg" / "erp").exists()
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.mariadb
def test_erp_in_mariadb_matches_sqlite(small_world, tmp_path):
    sa = pytest.importorskip("sqlalchemy")
    admin = sa.create_engine("mysql+pymysql://root@127.0.0.1:3306/")
    try:
        with admin.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"MariaDB at 127.0.0.1:3306 unreachable: {e}")
    db = f"crmw_sim_{uuid.uuid4().hex[:10]}"
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4"))
    url = f"mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4"
    try:
        simulate(SimConfig(out_dir=tmp_path / "my", seed=42, erp_url=url, **SMALL))
        sqlite_counts = erp_db.row_counts(f"sqlite:///{small_world / 'erp' / 'erp.sqlite'}")
        assert erp_db.row_counts(url) == sqlite_counts
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS `{db}`"))
        admin.dispose()
