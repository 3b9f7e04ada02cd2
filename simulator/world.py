"""The simulated world and its public API: :func:`simulate` builds a fresh world and writes the
three source systems plus the ground truth; :func:`continue_days` loads the saved state and
lets the same world live on for more days, delivering only the new days' data.

Persons are simulated in chunks of ``config.PERSONS_PER_CHUNK`` (persons of different chunks
never interact), so memory stays bounded at a million persons: a chunk is built or loaded,
lives through the window, writes its ERP rows and export parts, saves its state, and is
dropped before the next one. Ids come from world-wide counters, so they stay unique.

Same config, seed and chunk size => byte-identical sources (every random draw comes from
generators seeded by the seed, the window and the chunk; nothing reads the clock).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from contracts.sources import source_table, tables_of
from simulator import config as sim_config
from simulator import erp, exports
from simulator.catalog import build_products, build_stores
from simulator.config import SimConfig, chunk_seed
from simulator.identity import build_pools
from simulator.population import arrival_days, new_persons
from simulator.timeline import to_timestamp
from simulator.truth import TruthWriter, person_records_frame, persons_frame
from simulator.window import Window

TRUTH = "_truth"
STATE = "_truth/state"
NEXT_STATE = "_truth/state.next"  # written during a run, swapped in at the end
SCRATCH = "_truth/scratch.tmp"  # export parts and merge spill files, removed after a run
EXPORT_SYSTEMS = {t.name: t.system for t in tables_of("ecommerce") + tables_of("service_desk")}
ERP_TABLES = [t.name for t in tables_of("erp")]
RECORD_TABLES = {"members": "erp", "customers": "ecommerce", "contacts": "service_desk"}


@dataclass
class Chunk:
    """The persons of one chunk with their source records and rows waiting for a later day."""

    index: int
    persons: pd.DataFrame
    records: dict[str, pd.DataFrame] = field(default_factory=dict)
    deferred: dict[str, pd.DataFrame] = field(default_factory=dict)

    def add_records(self, system: str, table: str, rows: pd.DataFrame, ids: list[str]) -> None:
        rows = rows.copy()
        rows["_source_id"] = ids
        prev = self.records.get(table)
        self.records[table] = rows if prev is None else pd.concat([prev, rows], ignore_index=True)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.persons.to_parquet(folder / "persons.parquet")
        for name, df in self.records.items():
            df.to_parquet(folder / f"records_{name}.parquet")
        for name, df in self.deferred.items():
            df.to_parquet(folder / f"deferred_{name}.parquet")

    @classmethod
    def load(cls, index: int, folder: Path) -> Chunk:
        c = cls(index, pd.read_parquet(folder / "persons.parquet"))
        for f in sorted(folder.glob("records_*.parquet")):
            c.records[f.stem.removeprefix("records_")] = pd.read_parquet(f)
        for f in sorted(folder.glob("deferred_*.parquet")):
            c.deferred[f.stem.removeprefix("deferred_")] = pd.read_parquet(f)
        return c


@dataclass
class NewPersons:
    """Persons still to be drawn into a chunk: their acquisition days and random stream."""

    acquired: np.ndarray
    first_index: int
    rng: np.random.Generator


def chunk_dir(state: Path, index: int) -> Path:
    return state / f"chunk_{index:05d}"


class World:
    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.pools = build_pools(cfg.locale, cfg.seed)
        self.counters: dict[str, int] = {}
        self.products = pd.DataFrame()
        self.stores = build_stores(self.pools, cfg.country)
        self.t_end = 0.0
        self.files: list[dict] = []
        self.windows: list[dict] = []
        self.rows_written: dict[str, int] = {}
        self.chunk_sizes: list[int] = []  # persons per chunk, in person order
        self.persons_per_chunk = sim_config.PERSONS_PER_CHUNK
        self.state_in: Path | None = None  # where existing chunks are loaded from
        self.arriving: dict[int, NewPersons] = {}
        self._t_start = time.perf_counter()

    @property
    def out(self) -> Path:
        return self.cfg.out_dir

    def log(self, msg: str) -> None:
        if self.cfg.verbose:
            print(f"[simulate {time.perf_counter() - self._t_start:7.1f}s] {msg}",
                  file=sys.stderr, flush=True)

    # -- persons -----------------------------------------------------------------------------
    def populate(self) -> None:
        """The product master and the initial population's arrival days (persons are drawn
        chunk by chunk when their chunk first runs)."""
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, 1])
        self.products = build_products(rng, cfg.price_scale, cfg.currency)
        acquired = arrival_days(cfg.customers, cfg.history_days, cfg.behaviour, rng)
        self._plan_arrivals(acquired, 0, rng, [cfg.seed, 1])
        self.counters["person"] = len(acquired)

    def arrivals(self, t0: float, t1: float) -> None:
        """New persons keep arriving at the initial world's average rate."""
        cfg = self.cfg
        key = [cfg.seed, 2, int(round(t0 * 1000))]
        rng = np.random.default_rng(key)
        per_day = cfg.customers * (1 - cfg.behaviour.initial_share) / cfg.history_days * 1.25
        n = int(rng.poisson(per_day * (t1 - t0)))
        acquired = np.sort(t0 + rng.random(n) * (t1 - t0))
        first = self.counters["person"]
        self._plan_arrivals(acquired, first, rng, key)
        self.counters["person"] = first + n

    def _plan_arrivals(self, acquired: np.ndarray, first: int, rng: np.random.Generator,
                       key: list[int]) -> None:
        """Fill the last chunk up to the chunk size, then open new chunks. The first part uses
        ``rng`` (as a world in one piece would), later parts their own chunk streams."""
        size = self.persons_per_chunk
        pos, part = 0, 0
        while pos < len(acquired):
            if not self.chunk_sizes or self.chunk_sizes[-1] >= size:
                self.chunk_sizes.append(0)
            c = len(self.chunk_sizes) - 1
            take = min(size - self.chunk_sizes[c], len(acquired) - pos)
            stream = rng if part == 0 else np.random.default_rng(chunk_seed(key, part))
            self.arriving[c] = NewPersons(acquired[pos:pos + take], first + pos, stream)
            self.chunk_sizes[c] += take
            pos += take
            part += 1

    def open_chunk(self, c: int) -> Chunk:
        if self.state_in is not None and chunk_dir(self.state_in, c).exists():
            chunk = Chunk.load(c, chunk_dir(self.state_in, c))
        else:
            chunk = Chunk(c, pd.DataFrame())
        plan = self.arriving.pop(c, None)
        if plan is not None:
            new = new_persons(plan.acquired, plan.first_index, self.cfg, self.pools, plan.rng)
            new.index = new["person_idx"].to_numpy()
            chunk.persons = new if not len(chunk.persons) else pd.concat([chunk.persons, new])
        return chunk

    # -- one window ----------------------------------------------------------------------------
    def run_window(self, t0: float, t1: float) -> None:
        cfg = self.cfg
        self.log(f"window {self.day(t0)} .. {self.day(t1 - 1)} ({int(t1 - t0)} days), "
                 f"{sum(self.chunk_sizes):,} persons in {len(self.chunk_sizes)} chunk(s)")
        scratch = self.out / SCRATCH
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
        first_window = not self.windows
        truth = TruthWriter(self.out / TRUTH)
        truth.start_defects()
        parts: dict[str, list[Path]] = {}
        key = [cfg.seed, 3, int(round(t0 * 1000))]
        for c in range(len(self.chunk_sizes)):
            chunk = self.open_chunk(c)
            last = c == len(self.chunk_sizes) - 1
            tables = Window(self, chunk, t0, t1, last_chunk=last).run()
            out = self._visible_now(chunk, tables, t1)
            for name in ERP_TABLES:
                if name in out:
                    truth.add_defects(self.write_erp(name, out[name], replace=not first_window))
            wrng = np.random.default_rng(chunk_seed(key, c))
            for name, system in EXPORT_SYSTEMS.items():
                if name in out and len(out[name]):
                    part = scratch / "parts" / name / f"chunk_{c:05d}.parquet"
                    exports.write_part(system, name, out[name], part, cfg, t0, t1, wrng, c)
                    parts.setdefault(name, []).append(part)
            chunk.save(chunk_dir(self.out / NEXT_STATE, c))
            self.log(f"  chunk {c + 1}/{len(self.chunk_sizes)}: {len(chunk.persons):,} persons, "
                     + ", ".join(f"{k} {len(v):,}" for k, v in out.items()))
            del chunk, tables, out
        for name, system in EXPORT_SYSTEMS.items():
            if name not in parts:
                continue
            files, d = exports.write_daily_files(system, name, parts[name], self.out, cfg, t0,
                                                 scratch)
            for f in files:
                f["window"] = len(self.windows)
            self.files.extend(files)
            truth.add_defects(d)
            n = int(sum(f["rows"] for f in files if not f["redelivery_of"]))
            self.rows_written[name] = self.rows_written.get(name, 0) + n
            self.log(f"  {system} {name}: {n:,} rows in {len(files):,} files")
        truth.finish_defects()
        shutil.rmtree(scratch)
        self.windows.append({"start_date": self.day(t0).isoformat(),
                             "end_date": self.day(t1 - 1).isoformat(), "days": int(t1 - t0)})
        self.t_end = t1

    def _visible_now(self, chunk: Chunk, tables: dict[str, pd.DataFrame],
                     t1: float) -> dict[str, pd.DataFrame]:
        """Rows visible in this window (earlier deferred rows first); later ones are kept."""
        for name, rows in list(chunk.deferred.items()):
            tables[name] = pd.concat([rows, tables.get(name)], ignore_index=True) \
                if name in tables else rows
        chunk.deferred = {}
        out = {}
        for name, rows in tables.items():
            late = rows["_vis"].to_numpy() >= t1
            if late.any():
                chunk.deferred[name] = rows.loc[late].reset_index(drop=True)
            out[name] = rows.loc[~late].reset_index(drop=True)
        return out

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
                data[col.name] = to_timestamp(self.cfg.start_date,
                                              v.to_numpy(dtype="float64")).to_numpy()
            else:
                data[col.name] = v.to_numpy()
        erp.upsert(self.cfg.resolved_erp_url, spec, erp.rows_as_tuples(spec, data),
                   replace_existing=replace)
        self.rows_written[name] = self.rows_written.get(name, 0) + len(rows)
        return d

    # -- truth and state -----------------------------------------------------------------------
    def finish(self) -> None:
        """Truth files from the saved chunks, the manifest, and the new state swapped in."""
        state_next = self.out / NEXT_STATE
        truth = TruthWriter(self.out / TRUTH)
        n_chunks = len(self.chunk_sizes)
        categories = self.products["category"].unique()
        truth.write("persons.parquet", (
            persons_frame(pd.read_parquet(chunk_dir(state_next, c) / "persons.parquet"),
                          categories, self.cfg) for c in range(n_chunks)))

        def records():
            for table, system in RECORD_TABLES.items():
                for c in range(n_chunks):
                    f = chunk_dir(state_next, c) / f"records_{table}.parquet"
                    if f.exists():
                        ids = pd.read_parquet(chunk_dir(state_next, c) / "persons.parquet",
                                              columns=["person_idx", "person_id"])
                        yield person_records_frame(
                            pd.read_parquet(f, columns=["_source_id", "_person_idx",
                                                        "_is_duplicate", "_day"]),
                            ids.set_index("person_idx")["person_id"], system, table, self.cfg)
        truth.write("person_records.parquet", records())
        self.products.to_parquet(state_next / "products.parquet")
        (state_next / "state.json").write_text(json.dumps({
            "config": self.cfg.to_json(), "counters": self.counters, "t_end": self.t_end,
            "files": self.files, "windows": self.windows, "rows_written": self.rows_written,
            "persons_per_chunk": self.persons_per_chunk, "chunk_sizes": self.chunk_sizes,
        }) + "\n")  # no indent: the C encoder (the file list has thousands of entries)
        state = self.out / STATE
        if state.exists():
            shutil.rmtree(state)
        state_next.rename(state)
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
            "persons": int(sum(self.chunk_sizes)),
            "rows_written": dict(sorted(self.rows_written.items())),
            "erp_row_counts": erp.row_counts(cfg.resolved_erp_url),
            "files": self.files,
            "redeliveries": [f["file"] for f in self.files if f["redelivery_of"]],
        }
        (cfg.out_dir / TRUTH / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    @classmethod
    def load(cls, out_dir: Path, erp_url: str | None, verbose: bool = True) -> World:
        state = Path(out_dir) / STATE
        if not (state / "state.json").exists():
            raise FileNotFoundError(f"no simulator state at {state}: run a full simulate first")
        meta = json.loads((state / "state.json").read_text())
        if "chunk_sizes" not in meta:
            raise ValueError(f"{state / 'state.json'}: state of an older simulator without "
                             "chunks; run a full simulate again")
        cfg = SimConfig.from_json(meta["config"], Path(out_dir), erp_url)
        if not verbose:
            import dataclasses

            cfg = dataclasses.replace(cfg, verbose=False)
        w = cls(cfg)
        w.counters = meta["counters"]
        w.t_end = meta["t_end"]
        w.files, w.windows, w.rows_written = meta["files"], meta["windows"], meta["rows_written"]
        w.persons_per_chunk = meta["persons_per_chunk"]
        w.chunk_sizes = meta["chunk_sizes"]
        w.products = pd.read_parquet(state / "products.parquet")
        w.state_in = state
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
    world.finish()
    world.log("done")
    return out


def continue_days(out_dir: Path, days: int, erp_url: str | None = None,
                  verbose: bool = True) -> Path:
    """Let the saved world live ``days`` more days: new files, new and updated ERP rows."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    world = World.load(out_dir, erp_url, verbose)
    for stale in (NEXT_STATE, SCRATCH):  # left behind by an interrupted run
        if (Path(out_dir) / stale).exists():
            shutil.rmtree(Path(out_dir) / stale)
    t0 = world.t_end
    world.arrivals(t0, t0 + days)
    world.run_window(t0, t0 + days)
    world.finish()
    world.log("done")
    return Path(out_dir)
