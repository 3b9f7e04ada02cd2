"""Customer lifetime value: the public API of the CLV models (plain Python, no Dagster).

Pipeline, each step usable alone:

1. :func:`rfm_summary` (``ml.clv.rfm_summary``) turns transactions (customer id, date, amount) into
   one row per customer: frequency, recency, T, monetary_value. Runs in DuckDB.
2. :func:`fit_bgnbd` fits the BG/NBD purchase model (``ml.clv.bgnbd``) and :func:`fit_gamma_gamma`
   the spend model (``ml.clv.gamma_gamma``); both return a :class:`FitResult` whose
   ``to_dict()`` is JSON-ready and comes back with :func:`fit_result_from_dict`; params
   round-trip with ``to_dict``/``from_dict``.
3. Per customer: :func:`bgnbd_probability_alive`, :func:`bgnbd_expected_purchases`,
   :func:`bgnbd_probability_no_purchases`, :func:`gamma_gamma_expected_spend`.
4. Value: :func:`discounted_clv` (model-based) and :func:`simple_rule_clv` (the rule of thumb
   from business documents, kept as a baseline); :func:`score_customers` does 3 and 4 in one
   call and returns a DataFrame ready for ``ml.clv_scores``.

Example (what an asset does; ``con`` is a DuckDB connection to the warehouse)::

    summary = rfm_summary("SELECT customer_key, order_date, net_revenue FROM marts.fct_orders"
                          " WHERE customer_key IS NOT NULL AND NOT is_cancelled", as_of,
                          customer_col="customer_key", date_col="order_date",
                          amount_col="net_revenue", time_unit_days=7, connection=con)
    bg = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    gg = fit_gamma_gamma(summary["frequency"], summary["monetary_value"], on_invalid="exclude")
    scores = score_customers(summary, bg.params, gg.params, margin_rate=0.35)
    artifact = {"bgnbd": bg.to_dict(), "gamma_gamma": gg.to_dict()}  # json.dumps-able
    params = BetaGeoParams.from_dict(artifact["bgnbd"]["params"])      # and back

Units: the models work in whatever time unit the summary uses (``time_unit_days``: 7 for
weeks, 1 for days); CLV horizons are in months of ``days_per_month`` days (365.25/12).
Validated against the published CDNOW estimates and against ``lifetimes`` in tests/ml/.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml.clv.bgnbd import (
    BetaGeoParams,
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    bgnbd_probability_alive,
    bgnbd_probability_no_purchases,
    bgnbd_unconditional_expected,
    fit_bgnbd,
)
from ml.clv.fitting import FitResult
from ml.clv.gamma_gamma import (
    GammaGammaParams,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    spend_fit_exclusions,
)
from ml.clv.rfm_summary import calibration_holdout_summary, rfm_summary, rfm_summary_relation

__all__ = [
    "BetaGeoParams", "GammaGammaParams", "FitResult", "fit_result_from_dict",
    "fit_bgnbd", "bgnbd_log_likelihood", "bgnbd_probability_alive", "bgnbd_expected_purchases",
    "bgnbd_unconditional_expected", "bgnbd_probability_no_purchases",
    "fit_gamma_gamma", "gamma_gamma_expected_spend", "spend_fit_exclusions",
    "rfm_summary", "rfm_summary_relation", "calibration_holdout_summary",
    "discounted_clv", "simple_rule_clv", "expected_lifetime_years", "score_customers",
    "DAYS_PER_MONTH",
]

DAYS_PER_MONTH = 365.25 / 12
# The parameter class of each model a stored FitResult can hold.
FIT_PARAMETER_TYPES = {"bgnbd": BetaGeoParams, "gamma_gamma": GammaGammaParams}


def fit_result_from_dict(data: dict[str, Any]) -> FitResult:
    """Rebuild a stored BG/NBD or Gamma-Gamma fit (``FitResult.to_dict`` output)."""
    return FitResult.from_dict(data, FIT_PARAMETER_TYPES)


def _month_boundaries(months: int, time_unit_days: float, days_per_month: float) -> np.ndarray:
    if int(months) != months or months < 1:
        raise ValueError(f"months must be a whole number >= 1, got {months}")
    if not (time_unit_days > 0 and days_per_month > 0):
        raise ValueError("time_unit_days and days_per_month must be > 0")
    return np.arange(int(months) + 1) * days_per_month / time_unit_days


def expected_purchases_by_month(params: BetaGeoParams, frequency: Any, recency: Any, T: Any, *,
                                months: int = 12, time_unit_days: float = 7.0,
                                days_per_month: float = DAYS_PER_MONTH) -> np.ndarray:
    """Expected purchases in each future month, shape (customers, months)."""
    bounds = _month_boundaries(months, time_unit_days, days_per_month)
    cumulative = np.column_stack([
        bgnbd_expected_purchases(params, t, frequency, recency, T) for t in bounds
    ])
    return np.diff(cumulative, axis=1)


def discounted_clv(
    params: BetaGeoParams,
    frequency: Any,
    recency: Any,
    T: Any,
    expected_spend: Any,
    *,
    margin_rate: Any,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    time_unit_days: float = 7.0,
    days_per_month: float = DAYS_PER_MONTH,
) -> np.ndarray:
    """Discounted expected gross margin over the next ``months`` months, per customer.

    CLV = sum over months k of E[purchases in month k] * expected_spend * margin_rate
    / (1 + monthly_discount_rate)^k, with the purchases from BG/NBD (conditional on each
    customer's history) and the spend usually from :func:`gamma_gamma_expected_spend`.
    ``margin_rate`` is a fraction of revenue (scalar or one per customer); the warehouse
    supplies it from product margins. Discounting at the end of each month follows lifetimes.
    """
    if monthly_discount_rate <= -1:
        raise ValueError(f"monthly_discount_rate must be > -1, got {monthly_discount_rate}")
    spend = np.asarray(expected_spend, dtype=np.float64).reshape(-1)
    margin = np.broadcast_to(np.asarray(margin_rate, dtype=np.float64), spend.shape)
    if np.any(~np.isfinite(margin)) or np.any(margin > 1):
        raise ValueError("margin_rate: must be finite fractions of revenue (<= 1)")
    per_month = expected_purchases_by_month(params, frequency, recency, T, months=months,
                                            time_unit_days=time_unit_days,
                                            days_per_month=days_per_month)
    if per_month.shape[0] != spend.shape[0]:
        raise ValueError(f"expected_spend has {spend.shape[0]} rows, the summary "
                         f"{per_month.shape[0]}")
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, per_month.shape[1] + 1)
    return (per_month @ discount) * spend * margin


def expected_lifetime_years(annual_retention_rate: Any) -> np.ndarray:
    """Expected lifetime 1/(1 - retention) in years, the geometric-churn rule of thumb."""
    retention = np.asarray(annual_retention_rate, dtype=np.float64)
    if np.any((retention < 0) | (retention >= 1)):
        raise ValueError("annual_retention_rate must be in [0, 1)")
    return 1.0 / (1.0 - retention)


def simple_rule_clv(annual_spend: Any, expected_lifetime: Any, margin_rate: Any,
                    acquisition_cost: Any = 0.0) -> np.ndarray:
    """Baseline from business documents: annual spend x lifetime (years) x margin - CAC.

    No discounting, one lifetime for everyone, and past spend taken as the future: kept to
    compare the model-based :func:`discounted_clv` against what the business used before.
    """
    spend = np.asarray(annual_spend, dtype=np.float64)
    lifetime = np.asarray(expected_lifetime, dtype=np.float64)
    if np.any(lifetime < 0):
        raise ValueError("expected_lifetime must be >= 0 years")
    return spend * lifetime * np.asarray(margin_rate, dtype=np.float64) \
        - np.asarray(acquisition_cost, dtype=np.float64)


def score_customers(
    summary: pd.DataFrame,
    bgnbd: BetaGeoParams,
    gamma_gamma: GammaGammaParams,
    *,
    margin_rate: Any,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    time_unit_days: float = 7.0,
    days_per_month: float = DAYS_PER_MONTH,
) -> pd.DataFrame:
    """Per-customer scores from a summary (columns frequency, recency, T, monetary_value).

    Returns the summary's other columns (e.g. the customer key) plus ``probability_alive``,
    ``expected_purchases`` and ``probability_no_purchase`` over the horizon,
    ``expected_spend`` and ``clv`` (discounted gross margin over the horizon).
    """
    missing = {"frequency", "recency", "T", "monetary_value"} - set(summary.columns)
    if missing:
        raise ValueError(f"score_customers: summary lacks column(s) {sorted(missing)}")
    x, t_x, t_cap = summary["frequency"], summary["recency"], summary["T"]
    horizon = months * days_per_month / time_unit_days
    spend = gamma_gamma_expected_spend(gamma_gamma, x, summary["monetary_value"])
    scores = summary.copy()
    scores["probability_alive"] = bgnbd_probability_alive(bgnbd, x, t_x, t_cap)
    scores["expected_purchases"] = bgnbd_expected_purchases(bgnbd, horizon, x, t_x, t_cap)
    scores["probability_no_purchase"] = bgnbd_probability_no_purchases(bgnbd, horizon, x,
                                                                       t_x, t_cap)
    scores["expected_spend"] = spend
    scores["clv"] = discounted_clv(bgnbd, x, t_x, t_cap, spend, margin_rate=margin_rate,
                                   months=months, monthly_discount_rate=monthly_discount_rate,
                                   time_unit_days=time_unit_days,
                                   days_per_month=days_per_month)
    return scores
