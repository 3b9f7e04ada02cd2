"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Hardie note 025).

Each transaction value of a customer is Gamma(p, nu); across customers nu ~ Gamma(q, gamma).
The mean zbar of a customer's x repeat transactions is then Gamma(p*x, x*nu), and integrating
nu out gives the likelihood fitted here:

    log f(zbar | x) = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln(zbar)
                      + px ln(x) - (px+q) ln(gamma + x*zbar)

Only repeat buyers (x > 0) carry information about spend; customers with x = 0 are left out
of the fit by design (and counted in ``diagnostics``). The model assumes spend is independent
of purchase frequency; the fit reports their correlation so a user can check.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from ml.clv.fitting import FitResult, as_float_array, first_bad_row, maximise_log_likelihood

# Log-likelihood units that customer-level spend variation must add to count as evidence.
HOMOGENEOUS_SPEND_GAIN = 0.5


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters: shape p of each spend, shape q and rate v (gamma) of nu."""

    p: float
    q: float
    v: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(val) for k, val in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GammaGammaParams:
        missing = {"p", "q", "v"} - set(data)
        if missing:
            raise ValueError(f"GammaGammaParams.from_dict: missing field(s) {sorted(missing)}")
        params = cls(*(float(data[k]) for k in ("p", "q", "v")))
        if not all(np.isfinite(val) and val > 0 for val in asdict(params).values()):
            raise ValueError(f"GammaGammaParams.from_dict: every parameter must be > 0, got {data}")
        return params

    def as_array(self) -> np.ndarray:
        return np.array([self.p, self.q, self.v], dtype=np.float64)

    @property
    def population_mean_spend(self) -> float:
        """E[spend] of a customer nothing is known about: p*v/(q-1), finite only if q > 1."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("inf")


def _spend_arrays(frequency: Any, monetary_value: Any) -> tuple[np.ndarray, np.ndarray]:
    x = as_float_array(frequency, "frequency")
    m = np.asarray(monetary_value, dtype=np.float64).reshape(-1)
    if x.shape != m.shape:
        raise ValueError(f"frequency and monetary_value must have the same length, got "
                         f"{x.shape[0]} and {m.shape[0]}")
    first_bad_row(x < 0, "frequency", "are negative", x)
    return x, m


def spend_fit_exclusions(frequency: Any, monetary_value: Any) -> np.ndarray:
    """Why each customer cannot enter the Gamma-Gamma fit (None if she can), one per row.

    Reasons: ``no repeat purchase`` (no information on repeat spend, by design),
    ``repeat spend missing`` and ``repeat spend <= 0`` (e.g. returns cancel the orders out:
    the model needs positive amounts). Callers quarantine the last two with this reason.
    """
    x, m = _spend_arrays(frequency, monetary_value)
    reasons = np.full(x.shape, None, dtype=object)
    reasons[x == 0] = "no repeat purchase"
    reasons[(x > 0) & ~np.isfinite(m)] = "repeat spend missing"
    reasons[(x > 0) & np.isfinite(m) & (m <= 0)] = "repeat spend <= 0"
    return reasons


class _GammaGammaObjective:
    def __init__(self, x: np.ndarray, m: np.ndarray):
        self.x = x
        self.m = m
        self.log_m = np.log(m)
        self.log_x = np.log(x)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = theta
        x, m = self.x, self.m
        px = p * x
        log_vxm = np.log(v + x * m)
        ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
              + (px - 1) * self.log_m + px * self.log_x - (px + q) * log_vxm)
        dig_pxq = digamma(px + q)
        g_p = x * (dig_pxq - digamma(px) + self.log_m + self.log_x - log_vxm)
        g_q = dig_pxq - digamma(q) + np.log(v) - log_vxm
        g_v = q / v - (px + q) / (v + x * m)
        n = x.size
        return -float(ll.sum()) / n, -np.array([g_p.sum(), g_q.sum(), g_v.sum()]) / n


def fit_gamma_gamma(frequency: Any, monetary_value: Any, *,
                    on_invalid: str = "raise",
                    initial: GammaGammaParams | None = None) -> FitResult:
    """Fit Gamma-Gamma by maximum likelihood on the repeat buyers (frequency > 0).

    ``monetary_value`` is each customer's mean spend over repeat purchases (zbar). A repeat
    buyer with missing or non-positive zbar raises a ValueError naming the row, unless
    ``on_invalid="exclude"``: then she is left out and counted in ``diagnostics``
    (:func:`spend_fit_exclusions` gives the per-row reasons for a quarantine table).
    """
    if on_invalid not in ("raise", "exclude"):
        raise ValueError(f"on_invalid must be 'raise' or 'exclude', got {on_invalid!r}")
    started = time.perf_counter()
    x, m = _spend_arrays(frequency, monetary_value)
    reasons = spend_fit_exclusions(x, m)
    invalid = (x > 0) & (reasons != None)  # noqa: E711 (elementwise on an object array)
    if on_invalid == "raise":
        first_bad_row(invalid, "monetary_value", "are missing or <= 0 for a repeat buyer "
                      "(Gamma-Gamma needs positive spend)", m)
    repeat = (x > 0) & ~invalid
    if repeat.sum() < 3:
        raise ValueError("fit_gamma_gamma: needs at least 3 repeat buyers (frequency > 0) "
                         f"with positive spend, got {int(repeat.sum())}")
    x, m = x[repeat], m[repeat]
    objective = _GammaGammaObjective(x, m)
    # start: q = 2 (finite mean) and v so that p*v/(q-1) equals the observed mean spend
    theta0 = initial.as_array() if initial else np.array([1.0, 2.0, float(m.mean())])
    opt = maximise_log_likelihood(objective, theta0, float(x.size))
    params = GammaGammaParams(*map(float, opt.theta))
    correlation = float(np.corrcoef(x, m)[0, 1]) if np.std(x) > 0 and np.std(m) > 0 else 0.0
    # Does the spend level differ between customers at all? Compare with nu squeezed to its
    # mean (q, v x 1000). Without evidence the MLE of (q, v) lies at infinity along q/v and
    # the optimiser stops somewhere on that ridge; expected spend is the same along it.
    squeezed = np.array([params.p, params.q * 1e3, params.v * 1e3])
    gain = opt.total_log_likelihood + objective(squeezed)[0] * x.size
    message = opt.message
    diagnostics = {
        "customers_without_repeat_purchase": int((reasons == "no repeat purchase").sum()),
        "excluded_invalid_spend": int(invalid.sum()),
        "frequency_monetary_correlation": correlation,
        "spend_heterogeneity_log_likelihood_gain": float(gain),
    }
    if gain < HOMOGENEOUS_SPEND_GAIN:
        diagnostics["homogeneous_mean_spend"] = params.p * params.v / params.q
        message += (f"; no evidence that the spend level differs between customers "
                    f"(log-likelihood gain {gain:.3g} < {HOMOGENEOUS_SPEND_GAIN}): q and v are "
                    "not identified beyond their ratio, every customer's mean spend is "
                    f"p*v/q = {params.p * params.v / params.q:.4g}")
    return FitResult(
        model="gamma_gamma",
        params=params,
        log_likelihood=opt.total_log_likelihood,
        n=int(x.size),
        iterations=opt.iterations,
        converged=opt.converged,
        seconds=time.perf_counter() - started,
        standard_errors=dict(zip(("p", "q", "v"), map(float, opt.standard_errors), strict=True)),
        message=message,
        diagnostics=diagnostics,
    )


def gamma_gamma_expected_spend(params: GammaGammaParams, frequency: Any,
                               monetary_value: Any) -> np.ndarray:
    """E[spend per transaction | x, zbar] = (q-1)/(px+q-1) * p*v/(q-1) + px/(px+q-1) * zbar.

    A weighted mean of the population mean and the customer's own mean; customers with
    x = 0 get the population mean. Requires q > 1 (otherwise the mean spend is infinite).
    """
    p, q, v = params.as_array()
    if q <= 1:
        raise ValueError(f"gamma_gamma_expected_spend: q = {q} <= 1, mean spend is infinite")
    x, m = _spend_arrays(frequency, monetary_value)
    first_bad_row((x > 0) & ~(m >= 0), "monetary_value",
                  "are missing or negative for a repeat buyer", m)
    m = np.where(x > 0, m, 0.0)  # x = 0: the population mean, whatever zbar holds
    return p * (v + x * m) / (p * x + q - 1)
