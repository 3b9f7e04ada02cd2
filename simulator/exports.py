"""Export files of the e-commerce platform (gzip JSON lines) and the service desk (CSV).

One file per entity per day, ``<system dir>/<entity>/<entity>_<YYYY-MM-DD>.<ext>``. Persons are
simulated in chunks, so a day's file holds rows of every chunk: each chunk writes its rendered
rows to a Parquet *part* (:func:`write_part`), and :func:`write_daily_files` merges the parts,
orders every day's rows, numbers the lines, and splits one DuckDB ``COPY`` output into the
per-day files (one COPY per file cost ~3 ms each, minutes for a large world). Gzip is written
with ``mtime=0``, so the bytes are reproducible. Exact duplicate lines and re-delivered files
are injected here, where the line numbers are known.
"""

from __future__ import annotations

import gzip
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contracts.sources import source_table

SYSTEM_DIRS = {"ecommerce": "ecommerce", "service_desk": "service_desk"}
EXTENSIONS = {"ecommerce": "jsonl.gz", "service_desk": "csv"}
MONEY = {"unit_price", "shipping_amount", "total_amount"}
BUCKET_ROWS = 2_000_000  # rows merged at once: bounds the merge's memory at any world size
GZIP_LEVEL = 3  # 3x faster than 6 on these JSON lines for ~15 % larger files
SORT_KEYS = "_vis, {pk}, _copy, _chunk, _pos"  # within a day; _chunk, _pos break exact ties


def file_name(system: str, entity: str, day: date, suffix: str = "") -> str:
    return f"{SYSTEM_DIRS[system]}/{entity}/{entity}_{day.isoformat()}{suffix}.{EXTENSIONS[system]}"


def local_to_utc(ts: pd.Series, tz: str) -> pd.Series:
    """Naive local timestamps to naive UTC (DST gaps shift forward, repeats take standard time)."""
    loc = ts.dt.tz_localize(tz, ambiguous=np.zeros(len(ts), dtype=bool),
                            nonexistent="shift_forward")
    return loc.dt.tz_convert("UTC").dt.tz_localize(None)


def _select_list(system: str, spec) -> list[str]:
    """Rendered contract columns (text timestamps, money as DECIMAL, nested JSON/struct)."""
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
    return select


ADDRESS_PARTS = ["street", "city", "postal_code", "country_code"]
_ARROW_TYPES = {"TEXT": pa.string(), "JSON": pa.string(), "TIMESTAMP": pa.timestamp("s"),
                "INTEGER": pa.int64(), "BOOLEAN": pa.bool_(), "DECIMAL": pa.float64()}


def part_schema(spec) -> pa.Schema:
    """Fixed Arrow types of a part, so parts of every chunk read back as one table."""
    fields = [("_file_day", pa.int32()), ("_vis", pa.float64()), ("_copy", pa.int32()),
              ("_chunk", pa.int32()), ("_pos", pa.int64()), ("_defects", pa.string())]
    for col in spec.columns:
        if col.name == "address":
            fields += [(c, pa.string()) for c in ADDRESS_PARTS]
        else:
            fields.append((col.name, _ARROW_TYPES[col.type]))
    return pa.schema(fields)


def write_part(system: str, entity: str, df: pd.DataFrame, part: Path, cfg, t0: float,
               t1: float, rng: np.random.Generator, chunk: int) -> None:
    """One chunk's rows of an entity as a Parquet part: raw values (rendered at the merge),
    the file day and the sort keys, sorted by day so the merge reads only a bucket's days."""
    from simulator.timeline import to_timestamp

    spec = source_table(system, entity)
    schema = part_schema(spec)
    df = df.copy()
    df["_file_day"] = np.clip(np.floor(df["_vis"].to_numpy()), t0, t1 - 1).astype(int)
    df["_pos"] = np.arange(len(df))
    # exact duplicate lines, right after the original
    dup = rng.random(len(df)) < cfg.defects.duplicate_row
    copies = df.loc[dup].copy()
    copies["_defects"] = ":duplicate_row;"
    df["_copy"], copies["_copy"] = 0, 1
    df = pd.concat([df, copies], ignore_index=True)
    df["_chunk"] = chunk
    for col in spec.columns:
        if col.type == "TIMESTAMP":
            ts = to_timestamp(cfg.start_date, df[col.name].to_numpy())
            ts[df[col.name].isna().to_numpy()] = pd.NaT
            df[col.name] = local_to_utc(ts, cfg.timezone) if system == "ecommerce" else ts
    df = df.sort_values("_file_day", kind="stable")
    table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    part.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, part, row_group_size=100_000, compression="snappy")


def write_daily_files(system: str, entity: str, parts: list[Path], out_dir: Path, cfg,
                      t0: float, scratch: Path) -> tuple[list[dict], pd.DataFrame]:
    """Merge an entity's parts into per-day files; return (file records, defects with lines)."""
    spec = source_table(system, entity)
    pk = spec.primary_key[0]
    base = cfg.start_date
    con = duckdb.connect(config={"threads": 2, "memory_limit": "2GB",
                                 "temp_directory": str(scratch / "duckdb_tmp"),
                                 "preserve_insertion_order": True})
    src = "read_parquet([" + ", ".join(f"'{p}'" for p in parts) + "])"
    counts = con.execute(f"SELECT _file_day, count(*) FROM {src} GROUP BY 1 ORDER BY 1").fetchall()
    rendered = ", ".join(_select_list(system, spec))
    header = (",".join(spec.column_names) + "\n").encode() if system == "service_desk" else b""
    fmt = "(FORMAT json)" if system == "ecommerce" else "(FORMAT csv, HEADER false)"
    redeliver_rng = np.random.default_rng([cfg.seed, 11, int(t0), sum(map(ord, entity))])
    files: list[dict] = []
    defect_frames = []
    text = scratch / f"{entity}.txt"
    with ThreadPoolExecutor(max_workers=2) as pool:
        for lo, hi in _buckets(counts):
            # one sort; the table keeps that order, so rowid numbers the lines
            con.execute(f"""CREATE OR REPLACE TEMP TABLE b AS SELECT * FROM {src}
                WHERE _file_day BETWEEN {lo} AND {hi}
                ORDER BY _file_day, {SORT_KEYS.format(pk=f'"{pk}"')}""")
            con.execute(f"COPY (SELECT {rendered} FROM b) TO '{text}' {fmt}")  # insertion order
            day_counts = [(d, n) for d, n in counts if lo <= d <= hi]
            data = text.read_bytes()
            ends = _line_ends(data, [n for _, n in day_counts], text)
            start = 0
            jobs = []
            for (fday, n), end in zip(day_counts, ends, strict=True):
                day = base + timedelta(days=int(fday))
                rel = file_name(system, entity, day)
                body = header + data[start:end]
                start = end
                jobs.append(pool.submit(_write_file, out_dir / rel, body, system == "ecommerce"))
                files.append({"file": rel, "system": system, "entity": entity,
                              "day": day.isoformat(), "rows": int(n), "redelivery_of": None})
                if redeliver_rng.random() < cfg.defects.redelivery:
                    rel2 = file_name(system, entity, day, "_redelivery")
                    jobs.append((out_dir / rel, out_dir / rel2))
                    files.append({"file": rel2, "system": system, "entity": entity,
                                  "day": day.isoformat(), "rows": int(n), "redelivery_of": rel})
            for job in jobs:  # redeliveries copy the finished original
                if isinstance(job, tuple):
                    shutil.copyfile(*job)
                else:
                    job.result()
            del data
            d = con.execute(f'SELECT "{pk}", _file_day, rowid AS _row, _defects FROM b '
                            "WHERE _defects <> '' ORDER BY rowid").df()
            first_row = dict(zip([day for day, _ in day_counts],
                                 np.cumsum([0] + [n for _, n in day_counts])[:-1], strict=True))
            d["_line"] = d["_row"] - d["_file_day"].map(first_row) + 1
            defect_frames.append(_explode_defects(d, system, entity, pk, lambda fd: file_name(
                system, entity, base + timedelta(days=int(fd)))))
    con.close()
    text.unlink(missing_ok=True)
    defects = pd.concat(defect_frames, ignore_index=True) if defect_frames else empty_defects()
    redeliveries = [f for f in files if f["redelivery_of"]]
    if redeliveries:
        extra = pd.DataFrame({"system": system, "table": entity, "record_id": None,
                              "file": [f["file"] for f in redeliveries], "line": pd.NA,
                              "column": None, "defect_type": "redelivered_file"})
        defects = pd.concat([defects, extra], ignore_index=True)
    return files, defects


def _buckets(counts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Consecutive day ranges of at most BUCKET_ROWS rows (a bigger single day stays whole)."""
    out, lo, prev, rows = [], None, None, 0
    for day, n in counts:
        if lo is not None and rows + n > BUCKET_ROWS:
            out.append((lo, prev))
            lo, rows = None, 0
        if lo is None:
            lo = day
        rows += n
        prev = day
    if lo is not None:
        out.append((lo, prev))
    return out


def _line_ends(data: bytes, rows_per_day: list[int], path: Path) -> list[int]:
    """Byte offset just past each day's last line (every row is exactly one line)."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    total = int(sum(rows_per_day))
    if len(newlines) != total:
        raise ValueError(f"{path}: {len(newlines)} lines for {total} rows; a value holds a line "
                         "break, so rows cannot be split into per-day files")
    return (newlines[np.cumsum(rows_per_day) - 1] + 1).tolist()


def _write_file(path: Path, body: bytes, compress: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0) if compress else body)


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
