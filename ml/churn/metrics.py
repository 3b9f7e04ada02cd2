"""The four numbers every churn candidate is judged on, computed the same way for all.

ROC AUC (ranking), PR AUC as average precision (ranking where it matters, among churners),
Brier score (are the probabilities honest), and lift in the top decile (how much richer in
churners the 10% we would call first is than the base rate).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def top_decile_lift(y_true: np.ndarray, score: np.ndarray) -> float:
    """Churn rate among the 10% highest scores divided by the overall churn rate.

    Ties at the cut are broken by a stable sort, so a constant score gives lift 1.0 only on
    average; that is the honest answer for a score that cannot rank.
    """
    y = np.asarray(y_true, float)
    s = np.asarray(score, float)
    base = y.mean()
    if len(y) == 0 or base == 0:
        return float("nan")
    n_top = max(1, int(np.ceil(len(y) * 0.1)))
    top = np.argsort(-s, kind="stable")[:n_top]
    return float(y[top].mean() / base)


def churn_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    y = np.asarray(y_true, int)
    p = np.clip(np.asarray(probability, float), 0.0, 1.0)
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"churn validation needs churners and non-churners; got {len(y)} rows all labelled "
            f"{y[0] if len(y) else 'nothing'} (is the validation window inside the data?)")
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier_score": float(brier_score_loss(y, p)),
        "top_decile_lift": top_decile_lift(y, p),
        "churn_rate": float(y.mean()),
        "n": float(len(y)),
    }
