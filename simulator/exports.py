"""Export files of the e-commerce platform (gzip JSON lines) and the service desk (CSV).

One file per entity per day, ``<system dir>/<entity>/<entity>_<YYYY-MM-DD>.<ext>``, written by
DuckDB ``COPY`` (gzip output carries no timestamp, so the bytes are reproducible). Exact
duplicate lines and re-delivered files are injected here, where the line numbers are known.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from warehouse.source_contract import source_table

SYSTEM_DIRS = {"ecommerce": "ecommerce", "service_desk": "service_desk"}
EXTENSIONS = {"ecommerce": "jsonl.gz", "service_desk": "csv"}
MONEY = {"unit_price", "shipping_amount", "total_amount"}


def file_name(system: str, entity: str, day: date, suffix: str = "") -> str:
    return f"{SYSTEM_DIRS[system]}/{entity}/{entity}_{day.isoformat()}{suffix}.{EXTENSIONS[system]}"


def local_to_utc(ts: pd.Series, tz: str) -> pd.Series:
    """Naive local timestamps to naive UTC (DST gaps shift forward, repeats take standard time)."""
    loc = ts.dt.tz_localize(tz, ambiguous=np.zeros(len(ts), dtype=bool),
                            nonexistent="shift_forward")
    return loc.dt.tz_convert("UTC").dt.tz_localize(None)


def write_table(system: str, entity: str, df: pd.DataFrame, out_dir: Path, cfg,
                t0: float, t1: float, rng: np.random.Generator) -> tuple[list[dict], pd.DataFrame]:
    """Write one entity's rows of a window; return (file records, defects with file and line)."""
    from simulator.timeline import to_timestamp

    spec = source_table(system, entity)
    d = cfg.defects
    df = df.copy()
    df["_file_day"] = np.clip(np.floor(df["_vis"].to_numpy()), t0, t1 - 1).astype(int)
    # exact duplicate lines, right after the original
    dup = rng.random(len(df)) < d.duplicate_row
    copies = df.loc[dup].copy()
    copies["_defects"] = ":duplicate_row;"
    df["_copy"], copies["_copy"] = 0, 1
    df = pd.concat([df, copies], ignore_index=True)
    pk = spec.primary_key[0]
    df = df.sort_values(["_file_day", "_vis", pk, "_copy"], kind="stable").reset_index(drop=True)
    df["_line"] = df.groupby("_file_day").cumcount() + 1
    for col in spec.columns:
        if col.type == "TIMESTAMP":
            ts = to_timestamp(cfg.start_date, df[col.name].to_numpy())
            ts[df[col.name].isna().to_numpy()] = pd.NaT
            df[col.name] = local_to_utc(ts, cfg.timezone) if system == "ecommerce" else ts
    select = []
    for col in spec.columns:
        q = f'"{col.name}"'
        if col.type == "TIMESTAMP":
            fmt = "%Y-%m-%dT%H:%M:%SZ" if system == "ecommerce" else "%Y-%m-%d %H:%M:%S"
            select.append(f"strftime({q}, '{fmt}') AS {q}")
        elif col.name in MONEY:
            select.append(f"CAST({q} AS DECIMAL(12, 2)) AS {q}")
        elif col.type == "JSON" and col.name == "items":
            select.append(f"CAST({q} AS JSON) AS {q}")
        elif col.type == "JSON" and col.name == "address":
            select.append("CASE WHEN street IS NULL AND city IS NULL AND postal_code IS NULL "
                          "THEN NULL ELSE struct_pack(street := street, city := city, "
                          "postal_code := postal_code, country_code := country_code) END "
                          "AS address")
        else:
            select.append(q)
    con = duckdb.connect(config={"threads": 1})
    con.register("rows_df", df)
    con.execute(f"CREATE TABLE r AS SELECT _file_day, _line, {', '.join(select)} "
                "FROM rows_df ORDER BY _file_day, _line")
    con.unregister("rows_df")
    files = []
    base = cfg.start_date
    counts = df.groupby("_file_day").size()
    fmt = "(FORMAT json, COMPRESSION gzip)" if system == "ecommerce" else "(FORMAT csv, HEADER)"
    cols = ", ".join(f'"{c}"' for c in spec.column_names)
    redeliver_rng = np.random.default_rng([cfg.seed, 11, int(t0), sum(map(ord, entity))])
    for fday, n in counts.items():
        day = base + timedelta(days=int(fday))
        rel = file_name(system, entity, day)
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT {cols} FROM r WHERE _file_day = {int(fday)} ORDER BY _line) "
                    f"TO '{path}' {fmt}")
        files.append({"file": rel, "system": system, "entity": entity, "day": day.isoformat(),
                      "rows": int(n), "redelivery_of": None})
        if redeliver_rng.random() < d.redelivery:
            rel2 = file_name(system, entity, day, "_redelivery")
            shutil.copyfile(path, out_dir / rel2)
            files.append({"file": rel2, "system": system, "entity": entity,
                          "day": day.isoformat(), "rows": int(n), "redelivery_of": rel})
    con.close()
    defects = _explode_defects(df, system, entity, pk, lambda fd: file_name(
        system, entity, base + timedelta(days=int(fd))))
    redeliveries = [f for f in files if f["redelivery_of"]]
    if redeliveries:
        extra = pd.DataFrame({"system": system, "table": entity, "record_id": None,
                              "file": [f["file"] for f in redeliveries], "line": pd.NA,
                              "column": None, "defect_type": "redelivered_file"})
        defects = pd.concat([defects, extra], ignore_index=True)
    return files, defects


def _explode_defects(df: pd.DataFrame, system: str, table: str, pk: str, file_of) -> pd.DataFrame:
    has = df["_defects"].to_numpy() != ""
    sub = df.loc[has, [pk, "_file_day", "_line", "_defects"]]
    if not len(sub):
        return empty_defects()
    parts = sub["_defects"].str.rstrip(";").str.split(";")
    ex = sub.assign(d=parts).explode("d")
    col_type = ex["d"].str.split(":", n=1, expand=True)
    files = {fd: file_of(fd) for fd in ex["_file_day"].unique()}
    return pd.DataFrame({
        "system": system, "table": table, "record_id": ex[pk].astype(str).to_numpy(),
        "file": ex["_file_day"].map(files).to_numpy(),
        "line": pd.array(ex["_line"].to_numpy(), dtype="Int64"),
        "column": col_type[0].replace("", None).to_numpy(),
        "defect_type": col_type[1].to_numpy(),
    })


def empty_defects() -> pd.DataFrame:
    return pd.DataFrame({"system": pd.Series(dtype=object), "table": pd.Series(dtype=object),
                         "record_id": pd.Series(dtype=object), "file": pd.Series(dtype=object),
                         "line": pd.Series(dtype="Int64"), "column": pd.Series(dtype=object),
                         "defect_type": pd.Series(dtype=object)})
