"""The speed-ups of issue 7 keep the results: bounded threads, sampled k selection, training
cap, and occlusion reasons that skip rows already at the typical value."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

from ml.churn import training as churn
from ml.churn.candidates import GradientBoostingChurn, reasons
from ml.segments import clusters
from ml.shared.features import FEATURE_LABELS, default_scoring_date
from ml.shared.settings import ChurnWindows, MlSettings
from ml.shared.threads import bounded_threads
from orchestration.defs.ml.settings import THREADS_ENV, ml_settings_from_env


def _brute_force_reasons(candidate, frame: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """The original occlusion: every row predicted again once per feature."""
    columns = list(candidate.used_columns)
    x = frame[columns].reset_index(drop=True)
    base = candidate.predict(x)
    drops = np.zeros((len(x), len(columns)))
    for j, column in enumerate(columns):
        changed = x.copy()
        typical = candidate.reference[column]
        if not pd.isna(typical):
            changed[column] = typical
        drops[:, j] = base - candidate.predict(candidate.consistent(changed))
    out = []
    values = x.to_numpy(float)
    for i, order in enumerate(np.argsort(-drops, axis=1)[:, :top]):
        texts = []
        for j in order:
            if drops[i, j] <= 1e-6:
                break
            shown = "missing" if np.isnan(values[i, j]) else f"{values[i, j]:.3g}"
            label = FEATURE_LABELS.get(columns[j], columns[j].replace("_", " "))
            texts.append(f"{label}: {shown} (typical {candidate.reference[columns[j]]:.3g})")
        out.append(texts)
    return out


def test_reasons_equal_the_brute_force_occlusion(synthetic_warehouse, monkeypatch):
    db, _ = synthetic_warehouse
    con = duckdb.connect(str(db), read_only=True)
    try:
        as_of = default_scoring_date(con) - dt.timedelta(days=90)
        frame = churn.labelled_frame(con, as_of, ChurnWindows())
    finally:
        con.close()
    sample = frame.iloc[:400]
    monkeypatch.setattr("ml.churn.candidates.REASON_CHUNK_ROWS", 150)  # several chunks
    with bounded_threads(MlSettings().threads):
        model = GradientBoostingChurn(max_iter=30).fit(frame, frame.churned.to_numpy())
        fast, slow = reasons(model, sample), _brute_force_reasons(model, sample)
    # Many rows sit at the typical value of count features (0 tickets, 0 complaints): those
    # are the rows the fast path skips, so the check covers the skip.
    typical = model.reference["unresolved_complaints"]
    assert (sample["unresolved_complaints"] == typical).mean() > 0.5
    assert fast == slow
    assert sum(len(r) > 0 for r in fast) > 300


def test_choose_k_fits_on_a_sample_above_fit_sample(monkeypatch):
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [8, 0], [0, 8]], float)
    x = np.concatenate([c + rng.normal(size=(700, 2)) for c in centres])
    monkeypatch.setattr(clusters, "FIT_SAMPLE", 500)
    scores, models = clusters.choose_k(x, range(2, 6))
    k = max(scores, key=scores.get)
    assert k == 3
    assert len(models[k].labels_) == 500  # candidates saw the sample only
    final = clusters.fit_final(x, models[k])
    assert len(final.labels_) == len(x)
    truth = np.repeat(np.arange(3), 700)
    # every true blob lands in one cluster
    assert all(len(np.unique(final.labels_[truth == c])) == 1 for c in range(3))


def test_choose_k_uses_every_row_up_to_fit_sample():
    x = np.random.default_rng(0).normal(size=(300, 3))
    scores, models = clusters.choose_k(x, range(2, 4))
    assert set(scores) == {2, 3}
    assert all(len(m.labels_) == 300 for m in models.values())
    assert clusters.fit_final(x, models[2]) is models[2]


def test_training_rows_cap(monkeypatch):
    frame = pd.DataFrame({"customer_key": [f"c{i}" for i in range(250)], "v": range(250)})
    assert churn.training_rows(frame) is frame
    monkeypatch.setattr(churn, "MAX_TRAIN_ROWS", 100)
    first, again = churn.training_rows(frame), churn.training_rows(frame)
    assert len(first) == 100 and first.customer_key.is_unique
    assert first.equals(again)  # fixed seed: the same customers every run
    assert first.index.is_monotonic_increasing


def test_ml_threads_setting(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert ml_settings_from_env().threads == 1
    monkeypatch.setenv(THREADS_ENV, "2")
    with bounded_threads(ml_settings_from_env().threads) as n:
        assert n == 2
        pools = [p for p in threadpool_info() if p["internal_api"] in ("openmp", "openblas")]
        assert pools and all(p["num_threads"] <= 2 for p in pools)
    for bad in ("0", "two"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ValueError, match=THREADS_ENV):
            ml_settings_from_env()
