"""The churn oracle: the simulator's true latent state of each person, as a churn "model".

It is the ceiling nobody can reach from observed data, so it is evaluation, not product: the
churn training (``ml/churn/training.py``) selects its champion from observed data only, and
:func:`record_oracle_run` scores the oracle on the same validation window afterwards and adds
its row (candidate ``oracle``, role ``ceiling``) to that training's run in ``ml.model_runs``,
when the truth exists (demo sources only). The oracle knows whether the person had already
dropped out at the as-of date and their true purchase rate. While alive, a person buys as a
Poisson process, so

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
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ml.churn.metrics import churn_metrics
from ml.shared import model_store
from ml.shared.features import churn_labels, date_literal
from ml.shared.settings import ChurnWindows

ORACLE = "oracle"
CEILING = "ceiling"

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
                        when p.dropout_at is not null
                             and p.dropout_at < {date_literal(as_of)} then 1.0
                        else exp(-p.rate_per_day * {int(horizon_days)}) end as p_no_purchase
            from _oracle_keys k
            left join best b using (customer_key)
            left join p using (person_id)
        """).df()
    finally:
        con.unregister("_oracle_keys")
    return frame.set_index("customer_key")["p_no_purchase"].reindex(keys.customer_key)


@dataclass(frozen=True)
class OracleRun:
    """What :func:`record_oracle_run` did: the row it wrote, or why it wrote none."""

    run: model_store.ModelRun | None
    reason: str = ""


def latest_churn_training(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The latest full churn training in ``ml.model_runs`` (rescoring runs, which train
    nothing, have no ``n_train``): run id, version, dates, and the churn windows it used.

    The windows follow from the dates, which the training sets one horizon apart
    (``ml/churn/training.py``): validation = scoring - horizon, and the training window
    starts one lookback before the training as-of date, validation - horizon."""
    known = con.execute("select count(*) from information_schema.tables where "
                        "table_schema = 'ml' and table_name = 'model_runs'").fetchone()[0]
    if not known:
        return None
    row = con.execute(f"""
        select run_id, model_version, trained_at, training_window_start, training_window_end,
               validation_as_of, scoring_as_of
        from ml.model_runs
        where model_name = 'churn' and role = 'champion' and n_train is not null
          and candidate <> '{ORACLE}'
        order by trained_at desc, scoring_as_of desc limit 1""").fetchone()
    if row is None:
        return None
    names = ("run_id", "model_version", "trained_at", "training_window_start",
             "training_window_end", "validation_as_of", "scoring_as_of")
    training = dict(zip(names, row, strict=True))
    horizon = (training["scoring_as_of"] - training["validation_as_of"]).days
    lookback = (training["validation_as_of"] - training["training_window_start"]).days - horizon
    training["windows"] = ChurnWindows(horizon_days=horizon, active_lookback_days=lookback)
    return training


def record_oracle_run(con: duckdb.DuckDBPyConnection, truth_dir: Path) -> OracleRun:
    """Score the oracle on the validation window of the latest churn training and add its row
    (candidate ``oracle``, role ``ceiling``, the training's run id) to ``ml.model_runs``.

    Writes nothing when there is no truth or no churn training yet (``OracleRun.reason``).
    The validation customers and labels are those the candidates were judged on: the
    eligible customers at ``validation_as_of`` with the training's churn windows.
    """
    ok, why = truth_available(truth_dir)
    if not ok:
        return OracleRun(None, f"not run: {why}")
    training = latest_churn_training(con)
    if training is None:
        return OracleRun(None, "not run: no churn training in ml.model_runs yet")
    windows = training["windows"]
    valid_as_of = training["validation_as_of"]
    labels = churn_labels(con, valid_as_of, windows)
    truth = oracle_probabilities(con, truth_dir, valid_as_of, windows.horizon_days,
                                 labels.customer_key)
    known = truth.notna().to_numpy()
    if not known.any():
        return OracleRun(None, "not run: no validation customer maps to a person of the truth")
    run = model_store.ModelRun(
        run_id=training["run_id"], model_name="churn", candidate=ORACLE, role=CEILING,
        model_version=training["model_version"], trained_at=training["trained_at"],
        metrics=churn_metrics(labels.churned[known], truth.to_numpy()[known]),
        training_window_start=training["training_window_start"],
        training_window_end=training["training_window_end"],
        validation_as_of=valid_as_of, scoring_as_of=training["scoring_as_of"],
        n_validation=len(labels),
        notes=(f"simulator truth; {int(known.sum())} of {len(known)} validation customers "
               "mapped to a person"))
    model_store.add_runs(con, [run])
    return OracleRun(run)


def churn_comparison(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Every candidate of a churn run next to the oracle: role and validation metrics, in the
    order the training ranked them (best PR AUC first), the oracle last."""
    return con.execute(f"""
        select candidate, role, {", ".join(model_store.METRIC_COLUMNS)}
        from ml.model_runs
        where run_id = ? and model_name = 'churn'
        order by candidate = '{ORACLE}', pr_auc desc nulls last, candidate""",
                       [run_id]).df()
