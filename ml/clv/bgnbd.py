"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") in NumPy/SciPy.

While alive, a customer buys at Poisson rate lambda ~ Gamma(r, alpha); after each repeat
purchase she drops out with probability p ~ Beta(a, b). A customer is summarised by
x (repeat purchases), t_x (time of the last purchase since the first) and T (time since the
first purchase), all in one time unit of the caller's choosing (weeks for CDNOW).

The likelihood of one customer is

    L = B(a, b+x)/B(a, b) * G(r+x)/G(r) * alpha^r / (alpha+T)^(r+x)
        + [x>0] B(a+1, b+x-1)/B(a, b) * G(r+x)/G(r) * alpha^r / (alpha+t_x)^(r+x)

evaluated as logaddexp of the two branches (the second is the "dropped out after the last
purchase" branch); the gradient is the branch-weighted mix of the branch gradients, with
the weight w = P(dropped out | data) = 1 - P(alive). Everything that depends on x only
(gamma/beta ratios and digamma differences, as exact finite sums since x is a whole number)
is computed once per distinct x, and customers with the same
(x, t_x, T) are merged into one weighted row, which is what makes a million-customer fit
take well under a second on daily-resolution data.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, hyp2f1
from scipy.stats import beta as beta_distribution

from ml.clv.fitting import FitResult, check_summary, maximise_log_likelihood

# Log-likelihood units a free Beta(a, b) must gain over a single dropout probability to count
# as evidence of heterogeneity (likelihood-ratio statistic 1, p ~ 0.3: deliberately lenient).
HOMOGENEOUS_DROPOUT_GAIN = 0.5


@dataclass(frozen=True)
class BetaGeoParams:
    """BG/NBD parameters: purchase rate ~ Gamma(shape r, rate alpha), dropout ~ Beta(a, b).

    ``alpha`` is in the time unit of the data it was fitted on (a fit in weeks has an alpha
    seven times smaller than the same fit in days); the other three are unit-free.
    """

    r: float
    alpha: float
    a: float
    b: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BetaGeoParams:
        missing = {"r", "alpha", "a", "b"} - set(data)
        if missing:
            raise ValueError(f"BetaGeoParams.from_dict: missing field(s) {sorted(missing)}")
        params = cls(*(float(data[k]) for k in ("r", "alpha", "a", "b")))
        if not all(np.isfinite(v) and v > 0 for v in asdict(params).values()):
            raise ValueError(f"BetaGeoParams.from_dict: every parameter must be > 0, got {data}")
        return params

    def as_array(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b], dtype=np.float64)


def compress_summary(
    x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge identical (x, t_x, T) rows into one row whose weight is their count (or sum)."""
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": t_cap,
                          "w": np.ones_like(x) if weights is None else weights})
    grouped = frame.groupby(["x", "t_x", "T"], sort=False, as_index=False)["w"].sum()
    return (grouped["x"].to_numpy(), grouped["t_x"].to_numpy(), grouped["T"].to_numpy(),
            grouped["w"].to_numpy(dtype=np.float64))


class _BgNbdObjective:
    """Mean negative log-likelihood and gradient over weighted rows, for fixed data."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray, w: np.ndarray):
        self.x_values, self.x_index = np.unique(x, return_inverse=True)
        self.x_int = self.x_values.astype(np.int64)
        self.steps = np.arange(int(self.x_int.max()), dtype=np.float64)  # j = 0 .. max(x)-1
        self.t_x = t_x
        self.t_cap = t_cap
        self.w = w / w.sum()
        self.x = x

    @staticmethod
    def _cumulative(terms: np.ndarray) -> np.ndarray:
        """[0, t0, t0+t1, ...]: entry k is the sum of the first k terms."""
        return np.concatenate(([0.0], np.cumsum(terms)))

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = theta
        xi = self.x_int
        idx = self.x_index
        # Per distinct x, the parts that do not depend on t_x or T. x is a whole number, so
        # gamma and beta ratios are finite products, e.g. B(a, b+x)/B(a, b) =
        # prod_{j<x} (b+j)/(a+b+j), and digamma differences finite sums of 1/(.+j). Summing
        # them is exact where gammaln/betaln differences cancel catastrophically once a, b
        # reach ~1e8 (which they do when dropout does not vary between customers).
        j = self.steps
        inv_ab = self._cumulative(1.0 / (a + b + j))
        inv_b = self._cumulative(1.0 / (b + j))
        lgam_r = self._cumulative(np.log(r + j))[xi]
        dig_r = self._cumulative(1.0 / (r + j))[xi]
        log_b1 = self._cumulative(np.log1p(-a / (a + b + j)))[xi]
        # a/(b+x-1) is the ratio B(a+1, b+x-1)/B(a, b+x); only used where x > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(xi > 0, np.log(a) - np.log(b + xi - 1), -np.inf)
        d1_da = -inv_ab[xi]
        d1_db = inv_b[xi] - inv_ab[xi]
        d2_da = d1_da + 1.0 / a
        d2_db = np.where(xi > 0, inv_b[np.maximum(xi - 1, 0)] - inv_ab[xi], 0.0)

        rx = r + self.x
        log_at = np.log(alpha + self.t_cap)
        log_atx = np.log(alpha + self.t_x)
        # c = log(branch 2 / branch 1); -inf for x == 0 (branch 2 absent)
        c = log_ratio[idx] + rx * (log_at - log_atx)
        log_sum = np.logaddexp(0.0, c)
        wdrop = expit(c)  # posterior probability of having dropped out

        ll = lgam_r[idx] + r * np.log(alpha) + log_b1[idx] - rx * log_at + log_sum
        g_r = dig_r[idx] + np.log(alpha) - log_at + wdrop * (log_at - log_atx)
        g_alpha = r / alpha - rx * ((1 - wdrop) / (alpha + self.t_cap)
                                    + wdrop / (alpha + self.t_x))
        g_a = d1_da[idx] + wdrop * (d2_da - d1_da)[idx]
        g_b = d1_db[idx] + wdrop * (d2_db - d1_db)[idx]

        w = self.w
        value = -float(w @ ll)
        grad = -np.array([w @ g_r, w @ g_alpha, w @ g_a, w @ g_b])
        return value, grad


def bgnbd_log_likelihood(params: BetaGeoParams, frequency: Any, recency: Any, T: Any) -> float:
    """Total log-likelihood of a summary under given parameters (time unit of the data)."""
    x, t_x, t_cap = check_summary(frequency, recency, T)
    objective = _BgNbdObjective(x, t_x, t_cap, np.ones_like(x))
    return -objective(params.as_array())[0] * x.size


def _starting_values(x: np.ndarray, t_cap: np.ndarray, w: np.ndarray) -> np.ndarray:
    """r = 1 and alpha so that the mean purchase rate r/alpha matches sum(x)/sum(T)."""
    rate = max(float(w @ x), 1.0) / max(float(w @ t_cap), 1e-9)
    return np.array([1.0, 1.0 / rate, 1.0, 1.0])


def fit_bgnbd(
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any | None = None,
    *,
    compress: bool = True,
    initial: BetaGeoParams | None = None,
) -> FitResult:
    """Fit BG/NBD by maximum likelihood.

    ``weights`` (optional) counts how many customers each row stands for. With ``compress``
    identical rows are merged first (same optimum, much less work on real data, where t_x and
    T take one value per day). ``log_likelihood`` is the total over customers in the time unit
    of the data (CDNOW in weeks: -9582.43). ``seconds`` includes validation and compression.
    """
    started = time.perf_counter()
    x, t_x, t_cap = check_summary(frequency, recency, T)
    if x.size == 0:
        raise ValueError("fit_bgnbd: no customers to fit")
    if weights is None:
        w = np.ones_like(x)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights: must be finite, >= 0 and one per customer")
    if compress:
        x, t_x, t_cap, w = compress_summary(x, t_x, t_cap, w)
    if not np.any(x[w > 0] > 0):
        raise ValueError("fit_bgnbd: no customer has a repeat purchase; the model is not "
                         "identified")
    total = float(w.sum())
    objective = _BgNbdObjective(x, t_x, t_cap, w)
    theta0 = initial.as_array() if initial else _starting_values(x, t_cap, w)
    opt = maximise_log_likelihood(objective, theta0, total)
    params = BetaGeoParams(*map(float, opt.theta))
    diagnostics: dict[str, float] = {"distinct_rows": int(x.size)}
    message = opt.message
    # Is there evidence that dropout differs between customers? Compare with the same fit
    # with Beta(a, b) squeezed towards its mean (a, b x 1000). If the data cannot tell the two
    # apart, the MLE of (a, b) lies at infinity along a/(a+b) = p and the optimiser stops
    # somewhere on that ridge (typically "ABNORMAL"): every prediction is the same along it.
    squeezed = np.array([params.r, params.alpha, params.a * 1e3, params.b * 1e3])
    gap = opt.total_log_likelihood + objective(squeezed)[0] * total
    diagnostics["dropout_heterogeneity_log_likelihood_gain"] = float(gap)
    if gap < HOMOGENEOUS_DROPOUT_GAIN:
        p = params.a / (params.a + params.b)
        diagnostics["homogeneous_dropout_probability"] = p
        message += (f"; no evidence that dropout differs between customers (log-likelihood "
                    f"gain {gap:.3g} < {HOMOGENEOUS_DROPOUT_GAIN}): the dropout probability "
                    f"is the same for everyone, p = {p:.4g}; a and b are not identified "
                    "beyond their ratio")
    return FitResult(
        model="bgnbd",
        params=params,
        log_likelihood=opt.total_log_likelihood,
        n=int(round(total)),
        iterations=opt.iterations,
        converged=opt.converged,
        seconds=time.perf_counter() - started,
        standard_errors=dict(zip(("r", "alpha", "a", "b"), map(float, opt.standard_errors),
                                 strict=True)),
        message=message,
        diagnostics=diagnostics,
    )


# ---------------------------------------------------------------- per-customer predictions

def _log_dropout_odds(params: BetaGeoParams, x, t_x, t_cap) -> np.ndarray:
    """log( P(dropped out | data) / P(alive | data) ); -inf for x == 0."""
    r, alpha, a, b = params.as_array()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + t_cap) - np.log(alpha + t_x)),
            -np.inf,
        )


def bgnbd_probability_alive(params: BetaGeoParams, frequency: Any, recency: Any,
                            T: Any) -> np.ndarray:
    """P(still active at T | x, t_x, T). Customers without a repeat purchase get 1 (model)."""
    x, t_x, t_cap = check_summary(frequency, recency, T)
    return expit(-_log_dropout_odds(params, x, t_x, t_cap))


def _expected_if_alive(r: float, alpha: float, a: float, b: float, x, t_cap, t) -> np.ndarray:
    """E[purchases in (T, T+t] | alive at T, x], the bracket of FHL 2005 eq. 10.

    The published form (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
    2F1(r+x, b+x; a+b+x-1; z)], z = t/(alpha+T+t), multiplies a power that underflows by a
    2F1 that overflows once x is in the hundreds (daily data, heavy buyers: NaN). Euler's
    transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns the product into
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters stay O(1) in x. That one in
    turn overflows when a and b are huge (a fit where dropout is the same for everyone sends
    them to infinity); there Pfaff's form 2F1(a-1, r+x; a+b+x-1; -t/(alpha+T)), the same
    value without any power in front, is used. At a = 1 the expression is 0/0 with a finite
    limit: take the mean of a = 1 +- 1e-7.
    """
    if abs(a - 1.0) < 5e-8:
        return 0.5 * (_expected_if_alive(r, alpha, 1.0 + 1e-7, b, x, t_cap, t)
                      + _expected_if_alive(r, alpha, 1.0 - 1e-7, b, x, t_cap, t))
    x, t_cap, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64),
                                      np.asarray(t_cap, dtype=np.float64),
                                      np.asarray(t, dtype=np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        log_one_minus_z = np.log(alpha + t_cap) - np.log(alpha + t_cap + t)
        z = t / (alpha + t_cap + t)
        tail = np.exp((a - 1) * log_one_minus_z) * hyp2f1(a + b - 1 - r, a - 1,
                                                           a + b + x - 1, z)
        bad = ~np.isfinite(tail)
        if bad.any():
            tail = np.array(tail, dtype=np.float64)
            tail[bad] = hyp2f1(a - 1, r + x[bad], a + b + x[bad] - 1,
                               -t[bad] / (alpha + t_cap[bad]))
    expected = (a + b + x - 1) / (a - 1) * (1.0 - tail)
    bad = ~np.isfinite(expected)
    if bad.any():
        expected = np.array(expected, dtype=np.float64)
        expected[bad] = _expected_if_alive_by_quadrature(r, alpha, a, b, x[bad], t_cap[bad],
                                                         t[bad])
    return expected


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(64)


def _expected_if_alive_by_quadrature(r: float, alpha: float, a: float, b: float,
                                     x: np.ndarray, t_cap: np.ndarray,
                                     t: np.ndarray) -> np.ndarray:
    """Last resort for what both closed forms cannot evaluate (huge a and b with a long
    horizon): given p, alive customers expect (1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p
    purchases, and p | alive ~ Beta(a, b+x). Integrate over p's quantiles with 64-point
    Gauss-Legendre. The integrand is bounded and smooth in p: the error is below 1e-6 when
    Beta(a, b+x) is concentrated (the only case that gets here) and ~1e-4 at worst for
    ordinary parameters (tested)."""
    u = 0.5 * (_GL_NODES + 1.0)
    p = beta_distribution.ppf(u[None, :], a, (b + x)[:, None])
    p = np.clip(p, 1e-300, 1.0)
    shrink = np.log(alpha + t_cap)[:, None] - np.log(alpha + t_cap[:, None] + p * t[:, None])
    given_p = -np.expm1((r + x)[:, None] * shrink) / p
    return 0.5 * given_p @ _GL_WEIGHTS


def bgnbd_expected_purchases(params: BetaGeoParams, t: float | np.ndarray, frequency: Any,
                             recency: Any, T: Any) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T]  (FHL 2005, eq. 10) = P(alive) x E[... | alive].

    ``t`` may be a scalar or an array broadcastable against the customers.
    """
    x, t_x, t_cap = check_summary(frequency, recency, T)
    r, alpha, a, b = params.as_array()
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 0):
        raise ValueError("t: horizon must be >= 0")
    p_alive = expit(-_log_dropout_odds(params, x, t_x, t_cap))
    return _expected_if_alive(r, alpha, a, b, x, t_cap, t) * p_alive


def bgnbd_unconditional_expected(params: BetaGeoParams, t: float | np.ndarray) -> np.ndarray:
    """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired (eq. 9).

    The same bracket as eq. 10 with x = 0, T = 0 (a new customer is alive for sure).
    """
    r, alpha, a, b = params.as_array()
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 0):
        raise ValueError("t: horizon must be >= 0")
    return _expected_if_alive(r, alpha, a, b, 0.0, 0.0, t)


def bgnbd_probability_no_purchases(params: BetaGeoParams, t: float | np.ndarray,
                                   frequency: Any = 0, recency: Any = 0,
                                   T: Any = 0) -> np.ndarray:
    """P(no purchase in (T, T+t] | x, t_x, T).

    Dead customers never buy; given alive, lambda | data ~ Gamma(r+x, alpha+T), so the chance
    of a silent window is ((alpha+T)/(alpha+T+t))^(r+x). With the defaults (x = t_x = T = 0)
    this is P(X(t) = 0) for a new customer, (alpha/(alpha+t))^r.
    """
    x, t_x, t_cap = check_summary(np.atleast_1d(frequency), np.atleast_1d(recency),
                                  np.atleast_1d(T))
    r, alpha, _, _ = params.as_array()
    t = np.asarray(t, dtype=np.float64)
    p_alive = expit(-_log_dropout_odds(params, x, t_x, t_cap))
    silent_if_alive = np.exp((r + x) * (np.log(alpha + t_cap) - np.log(alpha + t_cap + t)))
    return (1.0 - p_alive) + p_alive * silent_if_alive
