"""The oracle churn candidate: the simulator's true latent state of each person.

It is the ceiling nobody can reach from observed data: it knows whether the person had
already dropped out at the as-of date and their true purchase rate. While alive, a person
buys as a Poisson process, so

    P(no purchase in [D, D + h)) = 1                     if dropped out before D
                                 = exp(-lambda * h)      otherwise

(in the BG/NBD story dropout only happens right after a purchase, so an alive person's next
purchase always comes before their dropout). The truth is read from
``<CRMW_SOURCES_DIR>/_truth/`` with DuckDB (never loaded whole into pandas) and joined to
customers through ``intermediate.int_customer_identity_map``; a customer whose records point
at several persons (a false merge) takes the person behind most of its records.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from ml.features import _lit

# Accepted names for the truth columns, with the factor that turns the rate into per-day.
RATE_COLUMNS = {
    "purchase_rate_per_day": 1.0, "lambda_per_day": 1.0, "lambda_daily": 1.0,
    "purchase_rate_per_week": 1 / 7, "lambda_per_week": 1 / 7, "lambda_weekly": 1 / 7,
    "purchase_rate_per_year": 1 / 365.25, "lambda_per_year": 1 / 365.25,
    "lambda_yearly": 1 / 365.25,
}
DROPOUT_DATE_COLUMNS = ("dropout_date", "dropout_at", "dropped_out_at", "churn_date", "death_date")


def find_truth_file(truth_dir: Path, stem: str) -> Path:
    for suffix in (".parquet", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".json"):
        candidate = truth_dir / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"no ground-truth file {stem}.(parquet|csv|csv.gz|jsonl) in {truth_dir}; the oracle "
        f"needs the simulator's truth (demo sources only)")


def _reader(path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if path.name.endswith(".parquet"):
        return f"read_parquet('{quoted}')"
    if ".csv" in path.name:
        return f"read_csv('{quoted}', header = true, all_varchar = true)"
    return f"read_json_auto('{quoted}')"


def truth_available(truth_dir: Path) -> tuple[bool, str]:
    try:
        find_truth_file(truth_dir, "persons")
        find_truth_file(truth_dir, "person_records")
    except FileNotFoundError as exc:
        return False, str(exc)
    return True, ""


def oracle_probabilities(con: duckdb.DuckDBPyConnection, truth_dir: Path,
                         as_of: dt.date, horizon_days: int,
                         customer_keys: pd.Series) -> pd.Series:
    """True P(no purchase in the horizon) for each customer key (NaN if not in the truth)."""
    persons = find_truth_file(truth_dir, "persons")
    records = find_truth_file(truth_dir, "person_records")
    columns = [r[0] for r in con.execute(f"describe select * from {_reader(persons)}").fetchall()]
    rate = next((c for c in RATE_COLUMNS if c in columns), None)
    dropout = next((c for c in DROPOUT_DATE_COLUMNS if c in columns), None)
    if rate is None or dropout is None:
        raise LookupError(
            f"{persons} needs a purchase-rate column (one of {sorted(RATE_COLUMNS)}) and a "
            f"dropout-date column (one of {DROPOUT_DATE_COLUMNS}); it has {columns}")
    keys = pd.DataFrame({"customer_key": customer_keys.astype(str).to_numpy()})
    con.register("_oracle_keys", keys)
    try:
        frame = con.execute(f"""
            with rec as (
                select cast(source_system as varchar) as source_system,
                       cast(source_table as varchar) as source_table,
                       cast(source_id as varchar) as source_id,
                       cast(person_id as varchar) as person_id
                from {_reader(records)}
            ),
            votes as (
                select m.customer_key, rec.person_id, count(*) as n
                from intermediate.int_customer_identity_map m
                join rec on rec.source_system = cast(m.source_system as varchar)
                        and rec.source_table = cast(m.source_table as varchar)
                        and rec.source_id = cast(m.source_id as varchar)
                group by 1, 2
            ),
            best as (
                select customer_key, arg_max(person_id, n) as person_id
                from votes group by 1
            ),
            p as (
                select cast(person_id as varchar) as person_id,
                       try_cast({rate} as double) * {RATE_COLUMNS[rate]} as rate_per_day,
                       try_cast({dropout} as timestamp) as dropout_at
                from {_reader(persons)}
            )
            select k.customer_key,
                   case when p.person_id is null then null
                        when p.dropout_at is not null and p.dropout_at < {_lit(as_of)} then 1.0
                        else exp(-p.rate_per_day * {int(horizon_days)}) end as p_no_purchase
            from _oracle_keys k
            left join best b using (customer_key)
            left join p using (person_id)
        """).df()
    finally:
        con.unregister("_oracle_keys")
    return frame.set_index("customer_key")["p_no_purchase"].reindex(keys.customer_key)
