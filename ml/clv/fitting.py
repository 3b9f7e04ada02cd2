"""Shared machinery for the CLV models: input checks, log-parameter optimisation, standard errors.

Generic on purpose: it knows neither model, so BG/NBD (:mod:`ml.clv.bgnbd`) and Gamma-Gamma
(:mod:`ml.clv.gamma_gamma`) both build on it and the imports run one way only; what needs
both models (rebuilding a stored fit, scoring) lives above them in :mod:`ml.clv.model`.

Both BG/NBD and Gamma-Gamma have strictly positive parameters, so they are optimised on
``log(theta)``: the search is unconstrained in practice (wide box bounds only keep ``exp`` from
overflowing), and a step in log space is a relative step, which makes one set of tolerances
work whether time is measured in days or weeks. Standard errors come from the observed
information (the Hessian of the negative log-likelihood, by central differences of the
analytic gradient) and are mapped back to the natural scale with the delta method.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

# exp(+-30) stays far from float overflow inside gammaln/log, and no fitted CLV parameter
# (in days, weeks or months) comes near these bounds.
LOG_PARAM_BOUND = 30.0
# A stopping point whose largest per-observation log-space gradient is below this is an optimum
# even when the line search reports failure (see maximise_log_likelihood).
ACCEPT_GRADIENT = 1e-6


def as_float_array(values: Any, name: str) -> np.ndarray:
    """A 1-D float64 array, with a clear error for missing or non-finite values."""
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}: {int(bad.sum())} missing or non-finite value(s), first at row {first}"
        )
    return array


def first_bad_row(mask: np.ndarray, name: str, problem: str, values: np.ndarray) -> None:
    """Raise a ValueError naming the field, the first offending row and the count."""
    if mask.any():
        first = int(np.flatnonzero(mask)[0])
        raise ValueError(
            f"{name}: {int(mask.sum())} row(s) {problem}; first at row {first} "
            f"(value {values[first]!r})"
        )


def check_summary(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, ...]:
    """Validate a (frequency, recency, T) summary and return float arrays.

    The BG/NBD conventions: frequency is a whole number of repeat purchases >= 0, recency
    lies in [0, T] and is 0 when frequency is 0, T >= 0.
    """
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    t_cap = as_float_array(T, "T")
    if not (x.shape == t_x.shape == t_cap.shape):
        raise ValueError(
            f"frequency, recency and T must have the same length, got "
            f"{x.shape[0]}, {t_x.shape[0]}, {t_cap.shape[0]}"
        )
    first_bad_row(x < 0, "frequency", "are negative", x)
    first_bad_row(x != np.round(x), "frequency", "are not whole numbers", x)
    first_bad_row(t_x < 0, "recency", "are negative", t_x)
    first_bad_row(t_x > t_cap * (1 + 1e-12), "recency", "are larger than T", t_x)
    first_bad_row((x == 0) & (t_x != 0), "recency", "are non-zero where frequency is 0", t_x)
    return x, t_x, t_cap


def _json_number(value: Any) -> Any:
    """NaN/inf are not JSON (json.dumps writes a bare NaN that strict readers reject): None."""
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


@dataclass
class FitResult:
    """What a maximum-likelihood fit produced, ready to be stored as JSON (``to_dict``)."""

    model: str
    params: Any  # BetaGeoParams or GammaGammaParams
    log_likelihood: float
    n: int
    iterations: int
    converged: bool
    seconds: float
    standard_errors: dict[str, float] = field(default_factory=dict)
    message: str = ""
    diagnostics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: undefined standard errors (a singular Hessian) become None."""
        return {
            "model": self.model,
            "params": self.params.to_dict(),
            "log_likelihood": self.log_likelihood,
            "n": self.n,
            "iterations": self.iterations,
            "converged": self.converged,
            "seconds": self.seconds,
            "standard_errors": {k: _json_number(v) for k, v in self.standard_errors.items()},
            "message": self.message,
            "diagnostics": {k: _json_number(v) for k, v in self.diagnostics.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], kinds: Mapping[str, Any]) -> FitResult:
        """Rebuild a stored fit (``to_dict`` output, e.g. read back from JSON); ``kinds`` maps
        each model name to its parameter class (with ``from_dict``), see
        :func:`ml.clv.model.fit_result_from_dict`."""
        model = data.get("model")
        if model not in kinds:
            raise ValueError(f"FitResult.from_dict: unknown model {model!r}; known: "
                             f"{sorted(kinds)}")
        required = ("log_likelihood", "n", "iterations", "converged", "seconds")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"FitResult.from_dict: stored {model} fit lacks {missing}")
        fields = {k: data[k] for k in required}
        return cls(model=model, params=kinds[model].from_dict(data["params"]),
                   standard_errors={k: float("nan") if v is None else float(v)
                                    for k, v in data.get("standard_errors", {}).items()},
                   message=str(data.get("message", "")),
                   diagnostics=dict(data.get("diagnostics", {})), **fields)


@dataclass
class LogParamOptimum:
    theta: np.ndarray
    total_log_likelihood: float
    iterations: int
    converged: bool
    message: str
    standard_errors: np.ndarray
    seconds: float


def maximise_log_likelihood(
    neg_ll_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    total_weight: float,
    max_iterations: int = 2000,
) -> LogParamOptimum:
    """Minimise a per-observation negative log-likelihood given on the natural scale.

    ``neg_ll_and_grad(theta)`` returns the mean negative log-likelihood and its gradient with
    respect to ``theta``; the chain rule d/dlog(theta) = theta * d/dtheta moves it to log space.
    The mean (not the sum) keeps the objective O(1) so L-BFGS-B's tolerances mean the same at
    any sample size; ``total_weight`` scales it back for the log-likelihood and the Hessian.
    """
    started = time.perf_counter()

    def objective(phi: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(phi)
        value, grad = neg_ll_and_grad(theta)
        return value, grad * theta

    phi0 = np.log(np.asarray(theta0, dtype=np.float64))
    bounds = [(-LOG_PARAM_BOUND, LOG_PARAM_BOUND)] * phi0.size
    # The work is tiny BLAS calls (4-vector updates, dot products): with OpenBLAS threads on
    # a busy machine each call waits for its threads, which made a 0.04 s fit take 2-3 s.
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            objective, phi0, jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": max_iterations, "ftol": 1e-14, "gtol": 1e-9},
        )
        standard_errors = _delta_method_standard_errors(objective, result.x, total_weight)
    theta = np.exp(result.x)
    converged, message = bool(result.success), str(result.message)
    if not converged and result.nit > 0:
        # SciPy >= 1.15 reports "ABNORMAL" when the line search cannot improve a point whose
        # gradient is already at rounding level (gtol=1e-9 is stricter than the objective's
        # precision). Such a point is the optimum: accept it, saying why.
        grad = np.asarray(objective(result.x)[1], dtype=np.float64)
        free = np.abs(result.x) < LOG_PARAM_BOUND  # a component at its bound may push out
        worst = float(np.max(np.abs(grad[free]))) if free.any() else 0.0
        if np.isfinite(result.fun) and worst < ACCEPT_GRADIENT:
            converged = True
            message = (f"{message.strip()} (accepted: max |gradient| {worst:.2g} < "
                       f"{ACCEPT_GRADIENT:g} at the stopping point)")
    return LogParamOptimum(
        theta=theta,
        total_log_likelihood=-float(result.fun) * total_weight,
        iterations=int(result.nit),
        converged=converged,
        message=message,
        standard_errors=standard_errors,
        seconds=time.perf_counter() - started,
    )


def _delta_method_standard_errors(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    phi: np.ndarray,
    total_weight: float,
) -> np.ndarray:
    """Standard errors of theta = exp(phi) from the observed information in log space."""
    k = phi.size
    hessian = np.empty((k, k))
    step = 1e-5
    for j in range(k):
        up, down = phi.copy(), phi.copy()
        up[j] += step
        down[j] -= step
        hessian[:, j] = (objective(up)[1] - objective(down)[1]) / (2 * step)
    hessian = 0.5 * (hessian + hessian.T) * total_weight
    try:
        covariance_phi = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return np.full(k, np.nan)
    variance_phi = np.diag(covariance_phi)
    if np.any(variance_phi <= 0):
        return np.full(k, np.nan)
    return np.exp(phi) * np.sqrt(variance_phi)
