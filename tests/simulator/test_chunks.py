"""Persons simulated in several chunks: same distributions as one piece, unique ids across
chunks, per-day files merged from every chunk, byte-identical for the same chunk size, and
``--days`` arrivals filling the last chunk and opening new ones."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import config as sim_config
from simulator.config import SimConfig
from simulator.world import continue_days, simulate
from tests.simulator.conftest import SMALL, source_hashes

WORLD = {**SMALL, "customers": 1200, "history_days": 120}
CHUNK = 250  # 1200 persons -> 5 chunks (the last one partly filled)


def _simulate(out: Path, seed: int, chunk: int, monkeypatch) -> Path:
    monkeypatch.setattr(sim_config, "PERSONS_PER_CHUNK", chunk)
    simulate(SimConfig(out_dir=out, seed=seed, **WORLD))
    return out


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, Path]:
    """The same world configuration simulated in one piece and in chunks of 250 persons."""
    mp = pytest.MonkeyPatch()
    try:
        base = tmp_path_factory.mktemp("chunks")
        return {"whole": _simulate(base / "whole", 5, 10**9, mp),
                "chunked": _simulate(base / "chunked", 5, CHUNK, mp)}
    finally:
        mp.undo()


def _erp(out: Path, sql: str) -> pd.DataFrame:
    con = sqlite3.connect(out / "erp" / "erp.sqlite")
    try:
        return pd.read_sql(sql, con)
    finally:
        con.close()


def _export(out: Path, entity: str) -> pd.DataFrame:
    frames = []
    for f in sorted((out / "ecommerce" / entity).glob(f"{entity}_????-??-??.jsonl.gz")):
        with gzip.open(f, "rt") as fh:
            rows = [json.loads(line) for line in fh]
        frames.append(pd.DataFrame(rows).assign(_file=f.name))
    return pd.concat(frames, ignore_index=True)


def _same_mean(a: np.ndarray, b: np.ndarray, sigmas: float = 4.5) -> bool:
    """Two-sample test: the means differ by less than ``sigmas`` standard errors."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return abs(a.mean() - b.mean()) <= sigmas * se


def test_state_records_the_chunks(worlds):
    state = json.loads((worlds["chunked"] / "_truth" / "state" / "state.json").read_text())
    assert state["persons_per_chunk"] == CHUNK
    assert state["chunk_sizes"] == [250, 250, 250, 250, 200]
    chunk_dirs = sorted((worlds["chunked"] / "_truth" / "state").glob("chunk_*"))
    assert [d.name for d in chunk_dirs] == [f"chunk_{i:05d}" for i in range(5)]
    whole = json.loads((worlds["whole"] / "_truth" / "state" / "state.json").read_text())
    assert whole["chunk_sizes"] == [1200]


def test_chunked_world_has_the_same_distributions(worlds):
    w, c = worlds["whole"], worlds["chunked"]
    pw = pd.read_parquet(w / "_truth" / "persons.parquet")
    pc = pd.read_parquet(c / "_truth" / "persons.parquet")
    assert len(pw) == len(pc) == 1200
    for col in ("purchase_rate_per_day", "dropout_probability", "web_share", "n_purchases",
                "n_tickets"):
        assert _same_mean(pw[col], pc[col]), col
    assert _same_mean(pw["alive_at_end"], pc["alive_at_end"])
    assert _same_mean(pw["has_account"], pc["has_account"])
    ow = _erp(w, "SELECT channel, member_id FROM sales_orders")
    oc = _erp(c, "SELECT channel, member_id FROM sales_orders")
    assert _same_mean(ow["channel"] == "WEB", oc["channel"] == "WEB")
    # walk-in sales (no member) are added per chunk in proportion to its store sales
    assert _same_mean(ow["member_id"].isna(), oc["member_id"].isna())
    lw = _erp(w, "SELECT order_id FROM sales_order_lines").groupby("order_id").size()
    lc = _erp(c, "SELECT order_id FROM sales_order_lines").groupby("order_id").size()
    assert _same_mean(lw, lc)
    # sessions: guest share and events per session
    sw, sc = _export(w, "sessions"), _export(c, "sessions")
    assert _same_mean(sw["customer_id"].isna(), sc["customer_id"].isna())
    ew = _export(w, "events").groupby("session_id").size()
    ec = _export(c, "events").groupby("session_id").size()
    assert _same_mean(ew, ec)
    # browsing of account holders: sessions per logged-in customer
    assert _same_mean(sw.groupby("customer_id").size(), sc.groupby("customer_id").size())


def test_ids_are_unique_across_chunks_and_truth_is_complete(worlds):
    c = worlds["chunked"]
    members = _erp(c, "SELECT member_id, email FROM members")
    assert members["member_id"].is_unique
    truth = pd.read_parquet(c / "_truth" / "person_records.parquet")
    assert not truth.duplicated(["source_table", "source_id"]).any()
    assert set(truth.loc[truth["source_table"] == "members", "source_id"]) == \
        set(members["member_id"].astype(str))
    persons = pd.read_parquet(c / "_truth" / "persons.parquet")
    assert persons["person_id"].is_unique and persons["email"].is_unique
    assert persons["phone_digits"].is_unique
    assert truth["person_id"].isin(persons["person_id"]).all()
    events = _export(c, "events")
    dup_lines = json.loads((c / "_truth" / "manifest.json").read_text())
    assert events["event_id"].nunique() == dup_lines["rows_written"]["events"] - \
        events.duplicated().sum()
    orders = _erp(c, "SELECT order_id FROM sales_orders")
    assert orders["order_id"].is_unique
    # a day's file holds rows of every chunk, ordered by the time they became visible
    sessions = _export(c, "sessions")
    day = sessions.groupby("_file")["started_at"].agg(["min", "max", "size"])
    assert (day["size"] > 0).all()
    big = sessions.loc[sessions["_file"] == day["size"].idxmax()]
    owners = pd.read_parquet(c / "_truth" / "person_records.parquet").set_index("source_id")
    persons_in_file = owners.reindex(big["customer_id"].dropna())["person_id"].dropna()
    chunk_of = persons_in_file.str[1:].astype(int).sub(1) // CHUNK
    assert chunk_of.nunique() > 1


def test_defect_lines_point_at_the_merged_files(worlds):
    c = worlds["chunked"]
    defects = pd.read_parquet(c / "_truth" / "defects.parquet")
    late = defects.query("table == 'events' and defect_type == 'late_arrival'")
    assert len(late) > 20
    for _, d in late.sample(20, random_state=1).iterrows():
        with gzip.open(c / d["file"], "rt") as fh:
            row = json.loads(fh.read().splitlines()[int(d["line"]) - 1])
        assert row["event_id"] == d["record_id"]
        local = pd.Timestamp(row["event_ts"]).tz_convert(WORLD["timezone"])
        assert local.date().isoformat() < d["file"][-19:-9]  # delivered on a later day


def test_same_chunk_size_same_bytes_other_chunk_size_differs(worlds, tmp_path, monkeypatch):
    again = _simulate(tmp_path / "again", 5, CHUNK, monkeypatch)
    assert source_hashes(again) == source_hashes(worlds["chunked"])
    assert source_hashes(worlds["whole"])["_truth/persons.parquet"] != \
        source_hashes(worlds["chunked"])["_truth/persons.parquet"]


@pytest.mark.slow
def test_continue_days_fills_the_last_chunk_and_opens_new_ones(worlds, tmp_path, monkeypatch):
    import shutil

    out = tmp_path / "inc"
    shutil.copytree(worlds["chunked"], out)
    monkeypatch.setattr(sim_config, "PERSONS_PER_CHUNK", 7)  # ignored: the state keeps 250
    continue_days(out, 200, verbose=False)
    state = json.loads((out / "_truth" / "state" / "state.json").read_text())
    sizes = state["chunk_sizes"]
    assert state["persons_per_chunk"] == CHUNK
    assert sizes[:4] == [250] * 4 and sizes[4] == 250 and len(sizes) >= 6
    assert all(s <= CHUNK for s in sizes)
    persons = pd.read_parquet(out / "_truth" / "persons.parquet")
    assert len(persons) == sum(sizes) > 1200
    assert persons["person_id"].is_unique and persons["email"].is_unique
    new = persons.loc[persons["acquired_at"] >= pd.Timestamp("2025-03-01")]
    assert len(new) > 500 and (new["n_purchases"] > 0).all()  # the first day's purchase
    truth = pd.read_parquet(out / "_truth" / "person_records.parquet")
    assert not truth.duplicated(["source_table", "source_id"]).any()
    members = _erp(out, "SELECT member_id FROM members")
    assert set(truth.loc[truth["source_table"] == "members", "source_id"]) == \
        set(members["member_id"].astype(str))
