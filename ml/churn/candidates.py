"""The churn candidates: each turns a per-customer frame into a probability of no purchase in
the horizon, so they can be validated and explained the same way.

* ``recency_only``: a one-feature logistic regression on log(1 + days since last purchase),
  the baseline every model must beat.
* ``bgnbd``: the BG/NBD model of :mod:`ml.clv.bgnbd` (unsupervised, fitted on purchase
  history only):
  P(no purchase in t) = (1 - P(alive)) + P(alive) * ((alpha + T) / (alpha + T + t))^(r + x),
  because while alive the next purchase comes before any dropout and, given alive, the
  purchase rate is Gamma(r + x, alpha + T) distributed.
* ``logistic_regression``: standardized features, sigmoid-calibrated.
* ``gradient_boosting``: scikit-learn histogram gradient boosting, isotonic-calibrated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ml.clv.bgnbd import bgnbd_probability_no_purchases, fit_bgnbd
from ml.shared.features import FEATURE_COLUMNS, FEATURE_LABELS

BGNBD_COLUMNS = ("bg_frequency", "bg_recency", "bg_T")
DAYS_PER_PERIOD = 7.0
REASON_CHUNK_ROWS = 20_000  # BG/NBD is fitted in weeks: better conditioned than days


@dataclass
class Candidate:
    """A named churn model with the columns it reads."""

    name: str
    columns: tuple[str, ...]
    parameters: dict = field(default_factory=dict)
    estimator: object | None = None
    reference: pd.Series | None = None  # typical (median) values, for reason codes
    used_columns: tuple[str, ...] = ()  # columns with at least one value in training

    def fit(self, frame: pd.DataFrame, churned: np.ndarray) -> Candidate:
        # A source that delivers nothing (e.g. no reviews yet) leaves an all-empty column;
        # it carries no information and some estimators refuse it, so it is left out.
        self.used_columns = tuple(c for c in self.columns if frame[c].notna().any())
        if not self.used_columns:
            raise ValueError(f"candidate {self.name}: every one of {self.columns} is empty")
        x = frame[list(self.used_columns)].astype(float)
        self.reference = x.median()
        self.estimator = self._build().fit(x.to_numpy(), np.asarray(churned, int))
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.estimator is None:
            raise RuntimeError(f"candidate {self.name} is not fitted")
        # Row-major: tree ensembles walk one row at a time (about 20% faster than the
        # column-major array pandas hands out).
        x = np.ascontiguousarray(frame[list(self.used_columns)].astype(float).to_numpy())
        return self.estimator.predict_proba(x)[:, 1]

    def _build(self):
        raise NotImplementedError

    def consistent(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Make an occluded copy (one feature set to its typical value) a possible customer
        history again. Most candidates accept any feature vector; see BgNbdChurn."""
        return frame


class RecencyOnly(Candidate):
    def __init__(self) -> None:
        super().__init__("recency_only", ("recency_days",), {"features": ["recency_days"],
                                                              "transform": "log1p"})

    def _build(self):
        return make_pipeline(FunctionTransformer(np.log1p), LogisticRegression())


class LogisticChurn(Candidate):
    def __init__(self, c: float = 1.0) -> None:
        super().__init__("logistic_regression", FEATURE_COLUMNS,
                         {"C": c, "calibration": "sigmoid", "cv": 3, "imputer": "median"})

    def _build(self):
        base = make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                           keep_empty_features=True),
                             FunctionTransformer(_signed_log1p), StandardScaler(),
                             LogisticRegression(C=self.parameters["C"], max_iter=2000))
        return CalibratedClassifierCV(base, method="sigmoid", cv=3)


class GradientBoostingChurn(Candidate):
    def __init__(self, learning_rate: float = 0.1, max_iter: int = 200,
                 max_leaf_nodes: int = 15, seed: int = 0) -> None:
        super().__init__("gradient_boosting", FEATURE_COLUMNS, {
            "learning_rate": learning_rate, "max_iter": max_iter,
            "max_leaf_nodes": max_leaf_nodes, "l2_regularization": 1.0,
            "early_stopping": True, "random_state": seed,
            "calibration": "isotonic", "cv": 3, "calibration_ensemble": False})

    def _build(self):
        p = self.parameters
        base = HistGradientBoostingClassifier(
            learning_rate=p["learning_rate"], max_iter=p["max_iter"],
            max_leaf_nodes=p["max_leaf_nodes"], l2_regularization=p["l2_regularization"],
            early_stopping=p["early_stopping"], random_state=p["random_state"])
        # ensemble=False: the isotonic map is fitted on 3-fold out-of-fold predictions, and
        # one booster refitted on all rows predicts. The default (one booster per fold,
        # averaged) predicts three times per row; the occlusion reasons predict every
        # customer ~27 times, so that was 2.5x the scoring time at the same validation
        # PR AUC (README "Performance").
        return CalibratedClassifierCV(base, method="isotonic", cv=3, ensemble=False)


class BgNbdChurn(Candidate):
    """BG/NBD probability of no purchase in the horizon; the label is not used to fit it."""

    def __init__(self, horizon_days: int) -> None:
        super().__init__("bgnbd", BGNBD_COLUMNS,
                         {"horizon_days": horizon_days, "time_unit_days": DAYS_PER_PERIOD})

    def fit(self, frame: pd.DataFrame, churned: np.ndarray | None = None) -> BgNbdChurn:
        x, r, t = self._inputs(frame)
        self.used_columns = self.columns
        self.estimator = fit_bgnbd(x, r, t).params
        self.parameters.update(self.estimator.to_dict())
        self.reference = frame[list(self.columns)].astype(float).median()
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.estimator is None:
            raise RuntimeError("candidate bgnbd is not fitted")
        x, r, t = self._inputs(frame)
        h = self.parameters["horizon_days"] / DAYS_PER_PERIOD
        quiet = bgnbd_probability_no_purchases(self.estimator, h, x, r, t)
        return np.clip(np.asarray(quiet, float), 0.0, 1.0)

    def consistent(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A typical recency can exceed a young customer's own age T, or be non-zero for a
        customer with no repeat purchase; neither is a possible history (BG/NBD refuses
        both). Such an occluded copy gets recency = T (its last purchase as late as it can
        be), and recency 0 where frequency is 0."""
        frame = frame.copy()
        recency = np.minimum(frame["bg_recency"], frame["bg_T"])
        frame["bg_recency"] = np.where(frame["bg_frequency"] > 0, recency, 0.0)
        return frame

    @staticmethod
    def _inputs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (frame["bg_frequency"].to_numpy(float),
                frame["bg_recency"].to_numpy(float) / DAYS_PER_PERIOD,
                frame["bg_T"].to_numpy(float) / DAYS_PER_PERIOD)


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    """Tame heavy tails (spend, counts) so the linear model is not driven by a few whales."""
    return np.sign(x) * np.log1p(np.abs(x))


def supervised_candidates() -> list[Candidate]:
    return [RecencyOnly(), LogisticChurn(), GradientBoostingChurn()]


def reasons(candidate: Candidate, frame: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """Top reasons per customer by occlusion: how much the churn probability falls when one
    feature is set to its typical (median) value. Works for every candidate alike, and reads
    as "this is unusual about you, and it raises your risk"."""
    columns = list(candidate.used_columns)
    typical = candidate.reference[columns].to_numpy(float)
    drops = np.zeros((len(frame), len(columns)))
    # One stacked prediction per chunk (the original rows, then per feature the rows whose
    # value differs from the typical one, set to it): tree ensembles pay a per-call cost, and
    # chunks keep memory bounded. A row already at the typical value would be predicted
    # unchanged (drop exactly 0), so it is not predicted again.
    for start in range(0, len(frame), REASON_CHUNK_ROWS):
        chunk = frame.iloc[start:start + REASON_CHUNK_ROWS][columns].reset_index(drop=True)
        values = chunk.to_numpy(float)
        copies, changed_rows = [chunk], []
        for j, column in enumerate(columns):
            if np.isnan(typical[j]):
                continue
            rows = np.flatnonzero(values[:, j] != typical[j])  # NaN differs from typical
            if rows.size == 0:
                continue
            changed = chunk.iloc[rows].copy()
            changed[column] = typical[j]
            copies.append(candidate.consistent(changed))
            changed_rows.append((j, rows))
        stacked = candidate.predict(pd.concat(copies, ignore_index=True))
        base, offset = stacked[:len(chunk)], len(chunk)
        for j, rows in changed_rows:
            drops[start + rows, j] = base[rows] - stacked[offset:offset + rows.size]
            offset += rows.size
    order = np.argsort(-drops, axis=1)[:, :top]
    labels = [FEATURE_LABELS.get(c, c.replace("_", " ")) for c in columns]
    typical_text = [f"{t:.3g}" for t in typical]
    out: list[list[str]] = []
    values = frame[columns].to_numpy(float)
    for i in range(len(frame)):
        texts = []
        for j in order[i]:
            if drops[i, j] <= 1e-6:
                break
            value = values[i, j]
            shown = "missing" if np.isnan(value) else f"{value:.3g}"
            texts.append(f"{labels[j]}: {shown} (typical {typical_text[j]})")
        out.append(texts)
    return out
