"""CLV scores for every purchasing customer: the warehouse side of :mod:`ml.clv.model`.

The math (BG/NBD, Gamma-Gamma, discounting, the simple rule) is in :mod:`ml.clv.model`; this
module feeds it the per-customer summary computed in DuckDB with the same as-of rule as the
churn features (purchases strictly before the scoring date, counted per distinct day), checks
the purchase model on a holdout, and shapes ``ml.clv_scores``.

* Margin: each customer's own gross-margin rate over their history (product cost from the
  ERP through ``fct_orders.margin_amount``); customers without one get the overall rate.
* Simple rule (the business documents' baseline): annual spend (last 12 months) x expected
  lifetime x gross margin - acquisition cost, with expected lifetime = 1 / (1 - r) for the
  observed annual retention r (share of customers active in the year before last who bought
  again last year) and the acquisition cost from ``ClvSettings.acquisition_cost`` (default 0).
* Holdout check: the purchase model is also fitted ``holdout_days`` before the scoring date
  and its expected purchases in the holdout compared with what customers really did.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from contracts.ml_outputs import CLV_HORIZON_COLUMNS, CLV_SCORES
from ml.clv import model as clv
from ml.shared import model_store
from ml.shared.features import rfm_inputs_sql, scoring_date
from ml.shared.settings import MlSettings
from ml.shared.threads import with_bounded_threads

TIME_UNIT_DAYS = 7.0  # fit in weeks, as in the literature (better conditioned than days)


@dataclass
class ClvResult:
    scores: pd.DataFrame
    runs: list[model_store.ModelRun]
    model_version: str
    scoring_as_of: dt.date
    parameters: dict


def summary_at(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    summary = con.execute(rfm_inputs_sql(as_of)).df()
    summary["recency_days"], summary["T_days"] = summary["recency"], summary["T"]
    summary["recency"] = summary["recency"] / TIME_UNIT_DAYS
    summary["T"] = summary["T"] / TIME_UNIT_DAYS
    # Gamma-Gamma wants a positive mean spend per repeat purchase; refunds can push it to <= 0.
    summary["monetary_value"] = summary["monetary_value"].clip(lower=0.01)
    return summary


def observed_annual_retention(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> float:
    d = f"DATE '{as_of.isoformat()}'"
    active_before, retained = con.execute(f"""
        with per_customer as (
            select customer_key,
                   bool_or(ordered_at >= {d} - interval 730 day
                           and ordered_at < {d} - interval 365 day) as was_active,
                   bool_or(ordered_at >= {d} - interval 365 day and ordered_at < {d}) as is_active
            from (select customer_key, cast(ordered_at as timestamp) as ordered_at
                  from marts.fct_orders
                  where customer_key is not null and not coalesce(is_cancelled, false)) o
            group by 1)
        select count(*) filter (where was_active),
               count(*) filter (where was_active and is_active)
        from per_customer
    """).fetchone()
    if not active_before:
        return 0.5  # under two years of data: the rule of thumb's neutral assumption
    return float(min(retained / active_before, 0.95))


def holdout_check(con: duckdb.DuckDBPyConnection, scoring: dt.date, days: int) -> dict:
    """Fit at ``scoring - days``; compare expected and actual purchases in the holdout."""
    start = scoring - dt.timedelta(days=days)
    calib = summary_at(con, start)
    if calib.empty or (calib.frequency > 0).sum() < 3:
        return {}
    fit = clv.fit_bgnbd(calib.frequency, calib.recency, calib["T"])
    expected = clv.bgnbd_expected_purchases(fit.params, days / TIME_UNIT_DAYS, calib.frequency,
                                            calib.recency, calib["T"])
    actual = con.execute(f"""
        select customer_key, count(distinct cast(ordered_at as timestamp)::date) as n
        from marts.fct_orders
        where customer_key is not null and not coalesce(is_cancelled, false)
          and cast(ordered_at as timestamp) >= DATE '{start.isoformat()}'
          and cast(ordered_at as timestamp) < DATE '{scoring.isoformat()}'
        group by 1""").df()
    actual = calib[["customer_key"]].merge(actual, how="left").n.fillna(0).to_numpy(float)
    return {
        "holdout_days": float(days),
        "holdout_actual_purchases": float(actual.sum()),
        "holdout_expected_purchases": float(np.sum(expected)),
        "holdout_total_ratio": float(np.sum(expected) / max(actual.sum(), 1.0)),
        "holdout_mae_per_customer": float(np.mean(np.abs(expected - actual))),
        "holdout_correlation": float(np.corrcoef(expected, actual)[0, 1])
        if np.std(actual) > 0 else float("nan"),
    }


@with_bounded_threads
def score(con: duckdb.DuckDBPyConnection, *, artifacts_root: Path,
          settings: MlSettings, run_id: str | None = None) -> ClvResult:
    """Fit both models on all purchases before the scoring date and score every purchaser.

    Writes nothing to the warehouse (see :func:`write_outputs`)."""
    scoring = scoring_date(con, settings.as_of)
    clv_settings = settings.clv
    run_id = run_id or f"clv-{uuid.uuid4().hex[:12]}"
    trained_at = model_store.utc_now()
    summary = summary_at(con, scoring)
    if summary.empty:
        raise ValueError(f"no customer purchased before {scoring}: nothing to score for CLV")
    bg = clv.fit_bgnbd(summary.frequency, summary.recency, summary["T"])
    gg = clv.fit_gamma_gamma(summary.frequency, summary.monetary_value)
    overall_margin = float(np.nansum(summary.total_spend * summary.margin_rate)
                           / max(np.nansum(summary.total_spend), 1e-9))
    margin = summary.margin_rate.fillna(overall_margin).clip(lower=0.0, upper=1.0).to_numpy()
    scored = clv.score_customers(
        summary[["customer_key", "frequency", "recency", "T", "monetary_value"]],
        bg.params, gg.params, margin_rate=margin, months=clv_settings.months,
        monthly_discount_rate=clv_settings.monthly_discount_rate, time_unit_days=TIME_UNIT_DAYS)

    retention = observed_annual_retention(con, scoring)
    lifetime = float(clv.expected_lifetime_years(retention))
    annual_spend = con.execute(f"""
        select customer_key, sum(coalesce(net_revenue, 0)) as spend
        from marts.fct_orders
        where customer_key is not null and not coalesce(is_cancelled, false)
          and cast(ordered_at as timestamp) < DATE '{scoring.isoformat()}'
          and cast(ordered_at as timestamp) >= DATE '{scoring.isoformat()}' - interval 365 day
        group by 1""").df()
    annual = summary[["customer_key"]].merge(annual_spend, how="left").spend.fillna(0).to_numpy()
    simple = clv.simple_rule_clv(annual, lifetime, margin, clv_settings.acquisition_cost)

    parameters = {
        "bgnbd": bg.params.to_dict(), "gamma_gamma": gg.params.to_dict(),
        "time_unit_days": TIME_UNIT_DAYS, "months": clv_settings.months,
        "monthly_discount_rate": clv_settings.monthly_discount_rate,
        "acquisition_cost": clv_settings.acquisition_cost,
        "simple_rule": {"annual_retention": retention, "expected_lifetime_years": lifetime},
        "overall_margin_rate": overall_margin,
    }
    version = model_store.new_version("clv", parameters, trained_at)
    artifact = model_store.save_artifact("clv", version, {"bgnbd": bg.params,
                                                          "gamma_gamma": gg.params},
                                         {"run_id": run_id, "parameters": parameters,
                                          "bgnbd_fit": bg.to_dict(), "gamma_gamma_fit":
                                          gg.to_dict(), "scoring_as_of": scoring},
                                         root=artifacts_root)
    scores = pd.DataFrame({
        "customer_key": summary.customer_key.astype(str),
        "probability_alive": scored.probability_alive.to_numpy(float),
        "expected_purchases_12m": scored.expected_purchases.to_numpy(float),
        "probability_no_purchase_12m": scored.probability_no_purchase.to_numpy(float),
        "expected_order_value": scored.expected_spend.to_numpy(float),
        "expected_revenue_12m": (scored.expected_purchases * scored.expected_spend).to_numpy(),
        "margin_rate": margin,
        "clv_12m": scored.clv.to_numpy(float),
        "simple_rule_clv": np.asarray(simple, float),
        "frequency": summary.frequency.astype("int64"),
        "days_since_last_purchase": (summary.T_days - summary.recency_days).astype("int64"),
        "tenure_days": summary.T_days.astype("int64"),
        "model_version": version,
        "as_of_date": scoring,
        "scored_at": trained_at,
    })
    if clv_settings.months != 12:
        scores = scores.rename(columns=CLV_HORIZON_COLUMNS)
    holdout = holdout_check(con, scoring, clv_settings.holdout_days)
    common = dict(run_id=run_id, model_name="clv", model_version=version,
                  trained_at=trained_at, training_window_end=scoring, scoring_as_of=scoring,
                  n_train=len(summary))
    first = summary.first_purchase_date.min()
    runs = [
        model_store.ModelRun(candidate="bgnbd_gamma_gamma", role="model",
                             parameters=parameters, artifact_path=str(artifact),
                             training_window_start=pd.Timestamp(first).date(),
                             metrics={"bgnbd_log_likelihood": bg.log_likelihood,
                                      "gamma_gamma_log_likelihood": gg.log_likelihood,
                                      "mean_clv": float(scored.clv.mean()),
                                      **holdout},
                             notes="BG/NBD purchases x Gamma-Gamma spend x margin, discounted",
                             **common),
        model_store.ModelRun(candidate="simple_rule", role="baseline",
                             parameters=parameters["simple_rule"],
                             metrics={"mean_simple_rule_clv": float(np.mean(simple))},
                             notes="annual spend x expected lifetime x margin - acquisition cost",
                             **common),
    ]
    return ClvResult(scores, runs, version, scoring, parameters)


def write_outputs(con: duckdb.DuckDBPyConnection, result: ClvResult) -> int:
    """Replace ``ml.clv_scores`` and record both runs in ``ml.model_runs``."""
    table = CLV_SCORES
    if "clv_12m" not in result.scores.columns:  # a horizon other than 12 months
        table = CLV_SCORES.renamed(CLV_HORIZON_COLUMNS)
    model_store.ensure_schema(con)
    rows = model_store.replace_table(con, table, result.scores)
    model_store.record_runs(con, result.runs)
    return rows
