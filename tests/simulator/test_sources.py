"""The written sources: determinism, the source contract, zh_CN, behaviour and truth."""

from __future__ import annotations

import gzip
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from contracts.sources import tables_of
from simulator.cli import simulate_command
from simulator.config import SimConfig
from simulator.world import simulate
from tests.simulator.conftest import SMALL, source_hashes


def read_export(out, entity: str, system: str = "ecommerce") -> pd.DataFrame:
    frames = []
    folder = out / system / entity
    for f in sorted(folder.glob("*")):
        if "_redelivery" in f.name:
            continue
        if system == "ecommerce":
            with gzip.open(f, "rt") as fh:
                frames.append(pd.DataFrame([json.loads(line) for line in fh]))
        else:
            frames.append(pd.read_csv(f, dtype=str, keep_default_na=False))
    return pd.concat(frames, ignore_index=True)


def erp(out, sql: str) -> list[tuple]:
    con = sqlite3.connect(out / "erp" / "erp.sqlite")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_same_seed_same_bytes_and_other_seed_differs(small_world, tmp_path):
    again = tmp_path / "again"
    simulate(SimConfig(out_dir=again, seed=42, **SMALL))
    assert source_hashes(again) == source_hashes(small_world)
    other = tmp_path / "other"
    simulate(SimConfig(out_dir=other, seed=43, **SMALL))
    a, b = source_hashes(other), source_hashes(small_world)
    assert a["erp/erp.sqlite"] != b["erp/erp.sqlite"]
    assert a["_truth/persons.parquet"] != b["_truth/persons.parquet"]


def test_every_contract_table_and_column_is_delivered(small_world):
    for t in tables_of("erp"):
        cols = [r[1] for r in erp(small_world, f"PRAGMA table_info({t.name})")]
        assert cols == t.column_names, t.name
        assert erp(small_world, f"SELECT count(*) FROM {t.name}")[0][0] > 0, t.name
    for t in tables_of("ecommerce"):
        files = sorted((small_world / "ecommerce" / t.name).glob(f"{t.name}_*.jsonl.gz"))
        assert files, t.name
        keys = set()
        for f in files:
            with gzip.open(f, "rt") as fh:
                for line in fh:
                    keys |= set(json.loads(line))
        assert keys == set(t.column_names), t.name
    for t in tables_of("service_desk"):
        files = sorted((small_world / "service_desk" / t.name).glob(f"{t.name}_*.csv"))
        assert files, t.name
        for f in files:
            assert f.read_text().splitlines()[0].split(",") == t.column_names, f


def test_export_formats(small_world):
    orders = read_export(small_world, "orders")
    assert orders["ordered_at"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()
    assert orders["items"].map(lambda v: isinstance(v, list) and len(v) > 0).all()
    customers = read_export(small_world, "customers")
    addr = customers["address"].dropna()
    assert addr.map(lambda a: set(a) == {"street", "city", "postal_code", "country_code"}).all()
    tickets = read_export(small_world, "tickets", "service_desk")
    assert tickets["created_at"].str.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$").all()
    # a ticket is exported again when it changes: later versions have later updated_at
    versions = tickets.groupby("ticket_id")["updated_at"]
    assert (versions.size() > 1).mean() > 0.5
    assert versions.agg(lambda s: s.is_monotonic_increasing).all()


def test_truth_covers_every_customer_record(small_world):
    truth = pd.read_parquet(small_world / "_truth" / "person_records.parquet")
    members = {str(r[0]) for r in erp(small_world, "SELECT member_id FROM members")}
    accounts = set(read_export(small_world, "customers")["customer_id"])
    contacts = set(read_export(small_world, "contacts", "service_desk")["contact_id"])
    got = truth.groupby("source_table")["source_id"].apply(set)
    assert got["members"] == members
    assert got["customers"] == accounts
    # a contact opened by a ticket after the last simulated day is delivered by the next --days
    pending = got["contacts"] - contacts
    assert contacts <= got["contacts"]
    created = truth.set_index("source_id")["created_at"]
    assert all(created[c] >= pd.Timestamp("2025-01-30") for c in pending)
    assert truth["person_id"].notna().all()
    manifest = json.loads((small_world / "_truth" / "manifest.json").read_text())
    assert manifest["seed"] == 42 and manifest["world_end_date"] == "2025-01-29"
    on_disk = {str(p.relative_to(small_world)) for p in small_world.glob("[es]*/*/*")}
    assert {f["file"] for f in manifest["files"]} == on_disk


def test_zh_cn_uses_cny_and_plus_86_phones(tmp_path):
    out = tmp_path / "zh"
    simulate(SimConfig(out_dir=out, locale="zh_CN", seed=3, **{**SMALL, "customers": 150}))
    phones = [r[0] for r in erp(out, "SELECT phone FROM members WHERE phone IS NOT NULL")]
    digits = [''.join(ch for ch in p if ch.isdigit()) for p in phones]
    assert all(d.startswith("861") or (len(d) == 11 and d.startswith("1")) for d in digits)
    assert np.mean([p.startswith("+86") for p in phones]) > 0.6  # the ERP's usual format
    assert {r[0] for r in erp(out, "SELECT DISTINCT currency FROM sales_orders")} == {"CNY"}
    assert set(read_export(out, "orders")["currency"]) == {"CNY"}
    assert set(read_export(out, "orders")["payment_method"]) <= {"alipay", "wechat_pay", "card"}


def test_latent_rates_and_behaviour_match_parameters(small_world):
    persons = pd.read_parquet(small_world / "_truth" / "persons.parquet")
    b = SimConfig(out_dir=small_world).behaviour
    lam = persons["purchase_rate_per_day"]
    mean, sd = b.bgnbd_r / b.bgnbd_alpha, np.sqrt(b.bgnbd_r) / b.bgnbd_alpha
    assert abs(lam.mean() - mean) < 4 * sd / np.sqrt(len(lam))
    p = persons["dropout_probability"]
    p_mean = b.bgnbd_a / (b.bgnbd_a + b.bgnbd_b)
    p_sd = np.sqrt(p_mean * (1 - p_mean) / (b.bgnbd_a + b.bgnbd_b + 1))
    assert abs(p.mean() - p_mean) < 4 * p_sd / np.sqrt(len(p))
    # purchases follow the latent rate: more purchases for higher lambda
    assert np.corrcoef(lam, persons["n_purchases"])[0, 1] > 0.3
    # bad service makes leaving likelier
    bad = persons["n_bad_tickets"] > 0
    assert (~persons.loc[bad, "alive_at_end"]).mean() > (~persons.loc[~bad, "alive_at_end"]).mean()


def test_products_that_go_together_have_lift(small_world):
    lines = pd.DataFrame(erp(small_world, "SELECT order_id, product_id FROM sales_order_lines"),
                         columns=["order_id", "product_id"])
    prods = pd.read_parquet(small_world / "_truth" / "state" / "products.parquet")
    partner = dict(zip(prods["product_id"], prods["product_id"].to_numpy()[prods["partner_idx"]],
                       strict=True))
    baskets = lines.groupby("order_id")["product_id"].apply(set)
    n = len(baskets)
    support = lines.drop_duplicates().groupby("product_id").size() / n
    lifts = []
    for a, b in partner.items():
        both = sum(1 for s in baskets if a in s and b in s) / n
        if support.get(a, 0) > 0.01 and support.get(b, 0) > 0.01 and both > 0:
            lifts.append(both / (support[a] * support[b]))
    assert len(lifts) >= 3 and np.median(lifts) > 2.0


def test_cli_if_missing_and_bad_defect_name(small_world):
    runner = CliRunner()
    before = source_hashes(small_world)
    res = runner.invoke(simulate_command, ["--out", str(small_world), "--if-missing"])
    assert res.exit_code == 0 and "nothing to do" in res.output
    assert source_hashes(small_world) == before
    res = runner.invoke(simulate_command, ["--out", str(small_world), "--defect", "nope=0.1"])
    assert res.exit_code != 0 and "unknown defect" in res.output
    res = runner.invoke(simulate_command, ["--out", str(small_world), "--defect", "email_noise=2"])
    assert res.exit_code != 0 and "between 0 and 1" in res.output


@pytest.mark.parametrize("table", ["members", "customers"])
def test_records_are_resolvable_by_email_or_phone(small_world, table):
    """Records sharing a normalized e-mail or phone belong to the same person (precision)."""
    truth = pd.read_parquet(small_world / "_truth" / "person_records.parquet")
    person = dict(zip(truth["source_id"], truth["person_id"], strict=True))
    if table == "members":
        recs = pd.DataFrame(erp(small_world, "SELECT member_id, email, phone FROM members"),
                            columns=["id", "email", "phone"]).astype({"id": str})
    else:
        recs = read_export(small_world, "customers").rename(columns={"customer_id": "id"})
    recs["email_n"] = recs["email"].str.strip().str.lower()
    recs["phone_n"] = recs["phone"].str.replace(r"\D", "", regex=True).str[-10:]
    recs["person"] = recs["id"].map(person)
    for key in ("email_n", "phone_n"):
        groups = recs.dropna(subset=[key]).groupby(key)["person"].nunique()
        assert (groups == 1).all(), key
