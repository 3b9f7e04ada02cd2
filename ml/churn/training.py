"""Churn: time-based validation of every candidate, champion/challenger, and scoring.

The label (non-contractual retail, see :mod:`ml.shared.features`): among customers with an
order in the 12 months before the as-of date, churned = no order in the 90 days from it (both
windows in ``MlSettings.churn_windows``, from ``CRMW_ML_ACTIVE_LOOKBACK_DAYS`` and
``CRMW_ML_CHURN_HORIZON_DAYS``).

Three as-of dates, one horizon ``h`` apart, so no label window overlaps the data a model is
scored on:

    train_as_of = S - 2h   features before it, labels in [S - 2h, S - h)
    valid_as_of = S - h    features before it, labels in [S - h, S)     (fully observed)
    scoring_as_of = S      the day after the last order (or ``MlSettings.as_of``)

Every candidate is trained at ``train_as_of`` and judged at ``valid_as_of``. The candidate
with the best PR AUC is the champion (the next one the challenger); it is refitted at
``valid_as_of`` (the latest fully labelled data) and scores everyone eligible at ``S``.
Selection uses observed data only: the simulator-truth oracle, the ceiling no model can
reach, is scored on the same validation window by ``evaluation/churn_oracle.py``, which adds
its row to the run in ``ml.model_runs`` when the truth exists.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from contracts.ml_outputs import CHURN_SCORES
from ml.churn.candidates import BgNbdChurn, Candidate, reasons, supervised_candidates
from ml.churn.metrics import churn_metrics
from ml.shared import model_store
from ml.shared.features import build_features, churn_labels, rfm_inputs_sql, scoring_date
from ml.shared.settings import ChurnWindows, MlSettings
from ml.shared.threads import with_bounded_threads

# Risk bands on the calibrated probability of no purchase in the horizon.
RISK_BANDS = ((0.7, "high"), (0.4, "medium"), (0.0, "low"))
# Supervised candidates are fitted on at most this many customers (a fixed-seed random
# sample above it), so training time stays flat at a million customers; validation metrics
# and scoring always use every eligible customer.
MAX_TRAIN_ROWS = 200_000


@dataclass
class ChurnResult:
    scores: pd.DataFrame
    runs: list[model_store.ModelRun]
    comparison: pd.DataFrame  # one row per candidate: role and validation metrics
    champion: str
    challenger: str | None
    model_version: str
    train_as_of: dt.date
    valid_as_of: dt.date
    scoring_as_of: dt.date
    artifact_path: Path
    # "trained" or why the champion of an earlier run scored instead (ml/churn/refit.py)
    refit: str = "trained"

    def metrics_markdown(self) -> str:
        return model_store.metrics_markdown(self.runs)


def risk_band(probability: np.ndarray) -> np.ndarray:
    out = np.full(len(probability), RISK_BANDS[-1][1], dtype=object)
    for threshold, name in reversed(RISK_BANDS):
        out[np.asarray(probability) >= threshold] = name
    return out


def labelled_frame(con: duckdb.DuckDBPyConnection, as_of: dt.date,
                   windows: ChurnWindows, rfm: pd.DataFrame | None = None) -> pd.DataFrame:
    """Features at ``as_of`` with BG/NBD inputs and the churn label, eligible customers only."""
    features = with_bgnbd_inputs(con, build_features(con, as_of, windows), as_of, rfm)
    labels = churn_labels(con, as_of, windows)
    frame = features.merge(labels, on="customer_key", how="inner", validate="one_to_one")
    if len(frame) != len(features):
        raise RuntimeError(f"features and labels at {as_of} disagree on the eligible customers "
                           f"({len(features)} vs {len(frame)} matched)")
    if frame.empty:
        raise ValueError(f"no customer had an order in the {windows.active_lookback_days} days "
                         f"before {as_of}: the data is too short to train churn at that date")
    return frame


def bgnbd_inputs(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """``customer_key, bg_frequency, bg_recency, bg_T`` of every purchaser before ``as_of``."""
    rfm = con.execute(rfm_inputs_sql(as_of)).df()[["customer_key", "frequency", "recency", "T"]]
    rfm.columns = ["customer_key", "bg_frequency", "bg_recency", "bg_T"]
    return rfm


def with_bgnbd_inputs(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame,
                      as_of: dt.date, rfm: pd.DataFrame | None = None) -> pd.DataFrame:
    """``frame`` with the BG/NBD inputs at ``as_of`` (``rfm``: already read ones)."""
    rfm = bgnbd_inputs(con, as_of) if rfm is None else rfm
    return frame.merge(rfm, on="customer_key", how="left", validate="one_to_one")


def training_rows(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """``frame``, or a fixed-seed sample of ``MAX_TRAIN_ROWS`` of it when it is larger."""
    if len(frame) <= MAX_TRAIN_ROWS:
        return frame
    return frame.sample(n=MAX_TRAIN_ROWS, random_state=seed).sort_index()


@with_bounded_threads
def train_and_score(con: duckdb.DuckDBPyConnection, *, artifacts_root: Path,
                    settings: MlSettings, run_id: str | None = None) -> ChurnResult:
    """Validate every candidate, pick the champion, score, store the artifact; return all.

    Writes nothing to the warehouse (see :func:`write_outputs`), so it can run on a
    read-only connection.
    """
    windows = settings.churn_windows
    h = dt.timedelta(days=windows.horizon_days)
    scoring = scoring_date(con, settings.as_of)
    valid_as_of, train_as_of = scoring - h, scoring - 2 * h
    run_id = run_id or f"churn-{uuid.uuid4().hex[:12]}"
    trained_at = model_store.utc_now()

    # Each purchase summary is read once: the validation one feeds the features and the
    # BG/NBD fit, the scoring one the scoring features and a BG/NBD refit.
    rfm_valid, rfm_scoring = bgnbd_inputs(con, valid_as_of), bgnbd_inputs(con, scoring)
    train = labelled_frame(con, train_as_of, windows)
    valid = labelled_frame(con, valid_as_of, windows, rfm_valid)
    fit_rows = training_rows(train)
    if train.churned.nunique() < 2:
        raise ValueError(f"churn training at {train_as_of} has only one class "
                         f"({int(train.churned.iloc[0])}); need churners and non-churners")

    fitted: dict[str, Candidate] = {}
    metrics: dict[str, dict[str, float]] = {}
    for candidate in supervised_candidates():
        candidate.fit(fit_rows, fit_rows.churned.to_numpy())
        fitted[candidate.name] = candidate
        metrics[candidate.name] = churn_metrics(valid.churned, candidate.predict(valid))

    bg = BgNbdChurn(windows.horizon_days)
    bg.fit(rfm_valid)  # unsupervised: purchase history before valid_as_of only
    fitted[bg.name] = bg
    metrics[bg.name] = churn_metrics(valid.churned, bg.predict(valid))

    ranked = sorted(metrics, key=lambda name: metrics[name]["pr_auc"], reverse=True)
    champion, challenger = ranked[0], (ranked[1] if len(ranked) > 1 else None)

    # Refit the champion on the latest fully labelled data and score at the scoring date.
    final = _refit(fitted[champion], training_rows(valid), rfm_scoring)
    scoring_frame = with_bgnbd_inputs(con, build_features(con, scoring, windows), scoring,
                                      rfm_scoring)
    probability = final.predict(scoring_frame) if len(scoring_frame) else np.array([])
    why_codes = reasons(final, scoring_frame) if len(scoring_frame) else []
    parameters = {
        "champion": champion, "challenger": challenger,
        "horizon_days": windows.horizon_days,
        "active_lookback_days": windows.active_lookback_days,
        "candidates": {name: c.parameters for name, c in fitted.items()},
        "selection": "highest validation PR AUC",
        "max_train_rows": MAX_TRAIN_ROWS,
    }
    version = model_store.new_version("churn", parameters, trained_at)
    artifact = model_store.save_artifact("churn", version, final, {
        "run_id": run_id, "champion": champion, "parameters": parameters,
        "trained_at": trained_at,
        "train_as_of": train_as_of, "valid_as_of": valid_as_of, "scoring_as_of": scoring,
        "validation_metrics": metrics[champion], "columns": list(final.columns),
        "refitted_on": f"features at {valid_as_of}, labels in the following "
                       f"{windows.horizon_days} days",
    }, root=artifacts_root)

    scores = score_table(scoring_frame, probability, why_codes, champion, version, scoring,
                         trained_at)

    runs = []
    for name in ranked:
        role = ("champion" if name == champion else "challenger" if name == challenger
                else "baseline" if name == "recency_only" else "candidate")
        runs.append(model_store.ModelRun(
            run_id=run_id, model_name="churn", candidate=name, role=role,
            model_version=version, trained_at=trained_at,
            parameters=fitted[name].parameters, metrics=metrics[name],
            training_window_start=train_as_of - dt.timedelta(days=windows.active_lookback_days),
            training_window_end=train_as_of + h,
            validation_as_of=valid_as_of, scoring_as_of=scoring,
            n_train=len(fit_rows), n_validation=len(valid),
            artifact_path=str(artifact) if name == champion else None,
        ))
    comparison = pd.DataFrame(
        [{"candidate": r.candidate, "role": r.role, **{k: r.metrics.get(k) for k in (
            "roc_auc", "pr_auc", "brier_score", "top_decile_lift")}} for r in runs])
    return ChurnResult(scores, runs, comparison, champion, challenger, version,
                       train_as_of, valid_as_of, scoring, artifact)


def score_table(scoring_frame: pd.DataFrame, probability: np.ndarray,
                why_codes: list[list[str]], champion: str, version: str,
                scoring: dt.date, scored_at: dt.datetime) -> pd.DataFrame:
    """The rows of ``ml.churn_scores``: probability, risk band and top three reasons."""
    return pd.DataFrame({
        "customer_key": scoring_frame.customer_key.astype(str),
        "churn_probability": probability.astype(float),
        "risk_band": risk_band(probability),
        "reason_1": [r[0] if len(r) > 0 else None for r in why_codes],
        "reason_2": [r[1] if len(r) > 1 else None for r in why_codes],
        "reason_3": [r[2] if len(r) > 2 else None for r in why_codes],
        "model_name": champion,
        "model_version": version,
        "as_of_date": scoring,
        "scored_at": scored_at,
    })


def _refit(candidate: Candidate, valid: pd.DataFrame, rfm_scoring: pd.DataFrame) -> Candidate:
    """The champion refitted: supervised ones on ``valid`` (features at the validation date,
    labels after it); BG/NBD, which needs no label, on all purchase history before the
    scoring date (``rfm_scoring``)."""
    fresh = copy.copy(candidate)  # same class and settings, no fitted state
    fresh.parameters = dict(candidate.parameters)
    fresh.estimator = fresh.reference = None
    if isinstance(candidate, BgNbdChurn):
        return fresh.fit(rfm_scoring)
    return fresh.fit(valid, valid.churned.to_numpy())


def write_outputs(con: duckdb.DuckDBPyConnection, result: ChurnResult) -> int:
    """Replace ``ml.churn_scores`` and record every candidate in ``ml.model_runs``."""
    model_store.ensure_schema(con)
    rows = model_store.replace_table(con, CHURN_SCORES, result.scores)
    model_store.record_runs(con, result.runs)
    return rows
