"""Synthetic customers drawn from known BG/NBD and Gamma-Gamma parameters.

Used to check that the fitters recover the truth and that holdout predictions are unbiased,
and by ``bench/clv_benchmark.py``. The generative story is the model's own: each customer
gets lambda ~ Gamma(r, rate alpha) and p ~ Beta(a, b); repeat purchases arrive as a Poisson
process of rate lambda from the first purchase at time 0; after each repeat purchase the
customer drops out with probability p, so she makes K ~ Geometric(p) repeat purchases in her
life (the K-th being her last). Given N Poisson arrivals in [0, T + holdout], their times are
sorted uniforms, which lets the whole population be drawn with a handful of array operations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml.clv.bgnbd import BetaGeoParams
from ml.clv.gamma_gamma import GammaGammaParams


def sample_bgnbd_customers(
    params: BetaGeoParams,
    T: Any,
    *,
    holdout: float = 0.0,
    spend: GammaGammaParams | None = None,
    resolution: float | None = None,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """One row per customer with the summary a warehouse would see, plus the hidden truth.

    ``T`` gives each customer's calibration age (an array, one per customer). Columns:
    ``frequency, recency, T`` (calibration summary), ``frequency_holdout`` (purchases in
    (T, T + holdout]), ``alive_at_T``, ``purchase_rate``, ``dropout_probability`` and, with
    ``spend``, ``monetary_value`` (mean of the repeat purchases' values; 0 if none) and
    ``mean_spend`` (the customer's true expected spend per purchase). ``resolution`` turns
    recency into whole days as a daily-resolution source would (1/7 for days in weeks, see
    below); T should then already be a multiple of it.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    t_cap = np.asarray(T, dtype=np.float64).reshape(-1)
    n = t_cap.size
    if n == 0 or np.any(t_cap < 0) or holdout < 0:
        raise ValueError("sample_bgnbd_customers: need at least one customer, T >= 0, "
                         "holdout >= 0")
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    p = np.clip(rng.beta(params.a, params.b, size=n), 1e-12, 1.0)
    lifetime_purchases = rng.geometric(p)

    horizon = t_cap + holdout
    arrivals = rng.poisson(lam * horizon)
    customer = np.repeat(np.arange(n), arrivals)
    times = rng.random(customer.size) * horizon[customer]
    order = np.lexsort((times, customer))
    times = times[order]  # customer stays sorted: np.repeat produced it in order
    first_index = np.cumsum(arrivals) - arrivals
    rank = np.arange(customer.size) - first_index[customer]
    made = rank < lifetime_purchases[customer]  # purchases after dropout never happen

    in_calibration = made & (times <= t_cap[customer])
    in_holdout = made & (times > t_cap[customer])
    frequency = np.bincount(customer[in_calibration], minlength=n)
    recency = np.zeros(n)
    # times are sorted within a customer, so the last calibration time per customer is the max
    np.maximum.at(recency, customer[in_calibration], times[in_calibration])
    if resolution:
        # A source records days, and the first purchase falls at a random time of its day:
        # day(first + t_x) - day(first) = floor(t_x + phase), phase ~ U(0, 1) day. This is
        # t_x on average; flooring t_x alone would shorten every recency by half a day and,
        # on a million customers, bias r and alpha by several standard errors.
        phase = rng.random(n)
        recency = np.where(frequency > 0,
                           np.floor(recency / resolution + phase) * resolution, 0.0)
        recency = np.minimum(recency, t_cap)
    frame = pd.DataFrame({
        "frequency": frequency,
        "recency": recency,
        "T": t_cap,
        "frequency_holdout": np.bincount(customer[in_holdout], minlength=n),
        "alive_at_T": frequency < lifetime_purchases,
        "purchase_rate": lam,
        "dropout_probability": p,
    })
    if spend is not None:
        nu = rng.gamma(spend.q, 1.0 / spend.v, size=n)
        shape = np.maximum(spend.p * frequency, 1e-12)
        # the mean of x Gamma(p, nu) values is Gamma(p*x, rate x*nu)
        zbar = rng.gamma(shape, 1.0 / (np.maximum(frequency, 1) * nu))
        frame["monetary_value"] = np.where(frequency > 0, zbar, 0.0)
        frame["mean_spend"] = spend.p / nu
    return frame
