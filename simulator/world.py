"""The simulated world and its public API: :func:`simulate` builds a fresh world and writes the
three source systems plus the ground truth; :func:`continue_days` loads the saved state and
lets the same world live on for more days, delivering only the new days' data.

Same config and seed => byte-identical sources (every random draw comes from generators seeded
by the seed and the window; nothing reads the clock).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from simulator import erp, exports
from simulator.catalog import build_products, build_stores
from simulator.config import SimConfig
from simulator.identity import build_pools
from simulator.population import arrival_days, new_persons
from simulator.timeline import to_timestamp
from simulator.window import Window
from warehouse.source_contract import source_table, tables_of

TRUTH = "_truth"
STATE = "_truth/state"
EXPORT_SYSTEMS = {t.name: t.system for t in tables_of("ecommerce") + tables_of("service_desk")}
ERP_TABLES = [t.name for t in tables_of("erp")]
RECORD_TABLES = {"members": "erp", "customers": "ecommerce", "contacts": "service_desk"}


class World:
    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.pools = build_pools(cfg.locale, cfg.seed)
        self.counters: dict[str, int] = {}
        self.records: dict[str, pd.DataFrame] = {}
        self.deferred: dict[str, pd.DataFrame] = {}
        self.persons = pd.DataFrame()
        self.products = pd.DataFrame()
        self.stores = build_stores(self.pools, cfg.country)
        self.t_end = 0.0
        self.files: list[dict] = []
        self.windows: list[dict] = []
        self.rows_written: dict[str, int] = {}
        self._t_start = time.perf_counter()

    def log(self, msg: str) -> None:
        if self.cfg.verbose:
            print(f"[simulate {time.perf_counter() - self._t_start:7.1f}s] {msg}",
                  file=sys.stderr, flush=True)

    def add_records(self, system: str, table: str, rows: pd.DataFrame, ids: list[str]) -> None:
        rows = rows.copy()
        rows["_source_id"] = ids
        prev = self.records.get(table)
        self.records[table] = rows if prev is None else pd.concat([prev, rows], ignore_index=True)

    # -- building ----------------------------------------------------------------------------
    def populate(self) -> None:
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, 1])
        self.products = build_products(rng, cfg.price_scale, cfg.currency)
        acquired = arrival_days(cfg.customers, cfg.history_days, cfg.behaviour, rng)
        self.persons = new_persons(acquired, 0, cfg, self.pools, rng)
        self.counters["person"] = len(self.persons)

    def arrivals(self, t0: float, t1: float) -> None:
        """New persons keep arriving at the initial world's average rate."""
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, 2, int(round(t0 * 1000))])
        per_day = cfg.customers * (1 - cfg.behaviour.initial_share) / cfg.history_days * 1.25
        n = int(rng.poisson(per_day * (t1 - t0)))
        acquired = np.sort(t0 + rng.random(n) * (t1 - t0))
        first = self.counters["person"]
        new = new_persons(acquired, first, cfg, self.pools, rng)
        new.index = new["person_idx"].to_numpy()
        self.persons = pd.concat([self.persons, new])
        self.counters["person"] = first + n

    def run_window(self, t0: float, t1: float) -> None:
        cfg = self.cfg
        self.log(f"window {self.day(t0)} .. {self.day(t1 - 1)} ({int(t1 - t0)} days)")
        tables = Window(self, t0, t1).run()
        # rows from earlier windows that become visible now
        for name, rows in list(self.deferred.items()):
            tables[name] = pd.concat([rows, tables.get(name)], ignore_index=True) \
                if name in tables else rows
        self.deferred = {}
        out = {}
        for name, rows in tables.items():
            late = rows["_vis"].to_numpy() >= t1
            if late.any():
                self.deferred[name] = rows.loc[late].reset_index(drop=True)
            out[name] = rows.loc[~late].reset_index(drop=True)
        defects = [exports.empty_defects()]
        first_window = not self.windows
        for name in ERP_TABLES:
            if name in out:
                self.log(f"  ERP {name}: {len(out[name]):,} rows")
                defects.append(self.write_erp(name, out[name], replace=not first_window))
        wrng = np.random.default_rng([cfg.seed, 3, int(round(t0 * 1000))])
        for name, system in EXPORT_SYSTEMS.items():
            if name in out and len(out[name]):
                self.log(f"  {system} {name}: {len(out[name]):,} rows")
                files, d = exports.write_table(system, name, out[name], cfg.out_dir, cfg, t0, t1,
                                               wrng)
                for f in files:
                    f["window"] = len(self.windows)
                self.files.extend(files)
                defects.append(d)
                self.rows_written[name] = self.rows_written.get(name, 0) + int(
                    sum(f["rows"] for f in files if not f["redelivery_of"]))
        self.append_defects(pd.concat([d for d in defects if len(d)] or defects,
                                      ignore_index=True))
        self.windows.append({"start_date": self.day(t0).isoformat(),
                             "end_date": self.day(t1 - 1).isoformat(), "days": int(t1 - t0)})
        self.t_end = t1

    def day(self, t: float) -> date:
        return self.cfg.start_date + timedelta(days=int(np.floor(t)))

    def write_erp(self, name: str, rows: pd.DataFrame, replace: bool) -> pd.DataFrame:
        spec = source_table("erp", name)
        pk = spec.primary_key[0]
        d = _erp_defects(rows, name, pk)
        rows = rows.sort_values(["_vis"], kind="stable").drop_duplicates(pk, keep="last")
        rows = rows.sort_values(pk, kind="stable")
        data = {}
        for col in spec.columns:
            v = rows[col.name]
            if col.type == "TIMESTAMP":
                ts = to_timestamp(self.cfg.start_date, v.to_numpy(dtype="float64"))
                data[col.name] = [None if pd.isna(x) else x.to_pydatetime() for x in ts]
            elif col.type == "DECIMAL":
                data[col.name] = [None if pd.isna(x) else round(float(x), 2) for x in v]
            elif col.type == "INTEGER":
                data[col.name] = [None if pd.isna(x) else int(x) for x in v]
            else:
                data[col.name] = [None if x is None or (isinstance(x, float) and np.isnan(x))
                                  else str(x) for x in v]
        recs = [dict(zip(data, vals, strict=True)) for vals in zip(*data.values(), strict=True)]
        erp.upsert(self.cfg.resolved_erp_url, name, recs, pk, replace_existing=replace)
        self.rows_written[name] = self.rows_written.get(name, 0) + len(recs)
        return d

    def append_defects(self, d: pd.DataFrame) -> None:
        path = self.cfg.out_dir / TRUTH / "defects.parquet"
        if path.exists():
            d = pd.concat([pd.read_parquet(path), d], ignore_index=True)
        d = d.astype({"line": "Int64"})
        path.parent.mkdir(parents=True, exist_ok=True)
        d.to_parquet(path, index=False)

    # -- truth and state -----------------------------------------------------------------------
    def write_truth(self) -> None:
        cfg = self.cfg
        truth = cfg.out_dir / TRUTH
        truth.mkdir(parents=True, exist_ok=True)
        recs = []
        for table, system in RECORD_TABLES.items():
            r = self.records.get(table)
            if r is None:
                continue
            recs.append(pd.DataFrame({
                "source_system": system, "source_table": table,
                "source_id": r["_source_id"].to_numpy(),
                "person_id": self.persons.loc[r["_person_idx"].to_numpy(), "person_id"].to_numpy(),
                "is_duplicate_record": r["_is_duplicate"].to_numpy().astype(bool),
                "created_at": to_timestamp(cfg.start_date, r["_day"].to_numpy()).to_numpy(),
            }))
        pd.concat(recs, ignore_index=True).to_parquet(truth / "person_records.parquet",
                                                      index=False)
        p = self.persons
        persons = pd.DataFrame({
            "person_id": p["person_id"].to_numpy(),
            "acquired_at": to_timestamp(cfg.start_date, p["acquired_day"].to_numpy()).to_numpy(),
            "purchase_rate_per_day": p["lam"].to_numpy(),
            "dropout_probability": p["p_drop"].to_numpy(),
            "spend_shape_p": p["gg_p"].to_numpy(),
            "spend_rate_nu": p["nu"].to_numpy() / cfg.price_scale,
            "expected_order_value": p["gg_p"].to_numpy() / p["nu"].to_numpy() * cfg.price_scale,
            "web_share": p["web_share"].to_numpy(),
            "preferred_channel": np.where(p["web_share"].to_numpy() >= 0.5, "web", "store"),
            "preferred_device": p["device"].to_numpy(),
            "favourite_category_1": self.products["category"].unique()[p["fav1"].to_numpy()],
            "favourite_category_2": self.products["category"].unique()[p["fav2"].to_numpy()],
            "has_member": p["has_member"].to_numpy(), "has_account": p["has_account"].to_numpy(),
            "marketing_opt_in": p["opt_in"].to_numpy(),
            "dropout_at": to_timestamp(cfg.start_date, p["dropout_day"].to_numpy()).to_numpy(),
            "alive_at_end": p["alive"].to_numpy(),
            "n_purchases": p["n_purchases"].to_numpy(), "n_tickets": p["n_tickets"].to_numpy(),
            "n_bad_tickets": p["n_bad_tickets"].to_numpy(),
            "first_name": p["first_name"].to_numpy(), "last_name": p["last_name"].to_numpy(),
            "email": p["email"].to_numpy(), "phone_digits": p["phone"].to_numpy(),
            "birth_date": p["birth_date"].to_numpy(), "postal_code": p["postal_code"].to_numpy(),
        })
        persons.loc[p["dropout_day"].isna().to_numpy(), "dropout_at"] = pd.NaT
        persons.to_parquet(truth / "persons.parquet", index=False)
        self.write_manifest()

    def write_manifest(self) -> None:
        cfg = self.cfg
        manifest = {
            "generator": "crm-warehouse simulator",
            "config": cfg.to_json(),
            "seed": cfg.seed,
            "defect_rates": cfg.to_json()["defects"],
            "world_start_date": cfg.start_date.isoformat(),
            "world_end_date": self.day(self.t_end - 1).isoformat(),
            "windows": self.windows,
            "persons": int(len(self.persons)),
            "rows_written": dict(sorted(self.rows_written.items())),
            "erp_row_counts": erp.row_counts(cfg.resolved_erp_url),
            "files": self.files,
            "redeliveries": [f["file"] for f in self.files if f["redelivery_of"]],
        }
        (cfg.out_dir / TRUTH / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    def save_state(self) -> None:
        state = self.cfg.out_dir / STATE
        if state.exists():
            shutil.rmtree(state)
        state.mkdir(parents=True)
        self.persons.to_parquet(state / "persons.parquet")
        self.products.to_parquet(state / "products.parquet")
        for name, df in self.records.items():
            df.to_parquet(state / f"records_{name}.parquet")
        for name, df in self.deferred.items():
            df.to_parquet(state / f"deferred_{name}.parquet")
        (state / "state.json").write_text(json.dumps({
            "config": self.cfg.to_json(), "counters": self.counters, "t_end": self.t_end,
            "files": self.files, "windows": self.windows, "rows_written": self.rows_written,
        }, indent=1) + "\n")

    @classmethod
    def load(cls, out_dir: Path, erp_url: str | None, verbose: bool = True) -> World:
        state = Path(out_dir) / STATE
        if not (state / "state.json").exists():
            raise FileNotFoundError(f"no simulator state at {state}: run a full simulate first")
        meta = json.loads((state / "state.json").read_text())
        cfg = SimConfig.from_json(meta["config"], Path(out_dir), erp_url)
        if not verbose:
            import dataclasses

            cfg = dataclasses.replace(cfg, verbose=False)
        w = cls(cfg)
        w.counters = meta["counters"]
        w.t_end = meta["t_end"]
        w.files, w.windows, w.rows_written = meta["files"], meta["windows"], meta["rows_written"]
        w.persons = pd.read_parquet(state / "persons.parquet")
        w.products = pd.read_parquet(state / "products.parquet")
        for f in sorted(state.glob("records_*.parquet")):
            w.records[f.stem.removeprefix("records_")] = pd.read_parquet(f)
        for f in sorted(state.glob("deferred_*.parquet")):
            w.deferred[f.stem.removeprefix("deferred_")] = pd.read_parquet(f)
        return w


def _erp_defects(rows: pd.DataFrame, table: str, pk: str) -> pd.DataFrame:
    has = rows["_defects"].to_numpy() != ""
    sub = rows.loc[has, [pk, "_defects"]]
    if not len(sub):
        return exports.empty_defects()
    ex = sub.assign(d=sub["_defects"].str.rstrip(";").str.split(";")).explode("d")
    ct = ex["d"].str.split(":", n=1, expand=True)
    return pd.DataFrame({"system": "erp", "table": table,
                         "record_id": ex[pk].astype(str).to_numpy(),
                         "file": None, "line": pd.array([pd.NA] * len(ex), dtype="Int64"),
                         "column": ct[0].replace("", None).to_numpy(),
                         "defect_type": ct[1].to_numpy()})


def sources_exist(out_dir: Path) -> bool:
    return (Path(out_dir) / TRUTH / "manifest.json").exists()


def simulate(cfg: SimConfig) -> Path:
    """Generate a fresh world into ``cfg.out_dir`` (replacing earlier generated sources)."""
    out = cfg.out_dir
    for sub in ("ecommerce", "service_desk", TRUTH):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    if cfg.erp_url is None and (out / "erp").exists():
        shutil.rmtree(out / "erp")
    out.mkdir(parents=True, exist_ok=True)
    world = World(cfg)
    world.log(f"{cfg.customers:,} persons, seed {cfg.seed}, locale {cfg.locale} -> {out}")
    erp.recreate(cfg.resolved_erp_url)
    world.populate()
    world.run_window(0.0, float(cfg.history_days))
    world.write_truth()
    world.save_state()
    world.log("done")
    return out


def continue_days(out_dir: Path, days: int, erp_url: str | None = None,
                  verbose: bool = True) -> Path:
    """Let the saved world live ``days`` more days: new files, new and updated ERP rows."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    world = World.load(out_dir, erp_url, verbose)
    t0 = world.t_end
    world.arrivals(t0, t0 + days)
    world.run_window(t0, t0 + days)
    world.write_truth()
    world.save_state()
    world.log("done")
    return Path(out_dir)
