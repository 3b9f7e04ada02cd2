"""Churn: candidates side by side, champion vs baseline, outputs. (The oracle, the ceiling
next to them, is evaluation: tests/evaluation/test_churn_oracle.py.)"""

from __future__ import annotations

import duckdb
import pytest

from ml.churn import training as churn
from ml.churn.metrics import churn_metrics, top_decile_lift
from ml.shared.settings import MlSettings


@pytest.fixture(scope="module")
def churn_run(synthetic_warehouse, tmp_path_factory):
    db, _ = synthetic_warehouse
    con = duckdb.connect(str(db), read_only=True)
    try:
        result = churn.train_and_score(con, settings=MlSettings(), run_id="test-churn",
                                       artifacts_root=tmp_path_factory.mktemp("artifacts"))
    finally:
        con.close()
    print("\nchurn validation at", result.valid_as_of, "(synthetic warehouse, 3,000 people)")
    print(result.metrics_markdown())
    return result


def test_every_candidate_is_compared_and_selection_never_sees_the_truth(churn_run):
    table = churn_run.comparison.set_index("candidate")
    assert set(table.index) == {"recency_only", "bgnbd", "logistic_regression",
                                "gradient_boosting"}
    assert "ceiling" not in set(table.role)


def test_champion_is_best_pr_auc_and_beats_recency_only(churn_run):
    table = churn_run.comparison.set_index("candidate")
    assert churn_run.champion == table.pr_auc.idxmax()
    assert table.loc[churn_run.champion, "role"] == "champion"
    assert churn_run.challenger == table.pr_auc.drop(index=churn_run.champion).idxmax()
    assert churn_run.champion != "recency_only"
    for metric in ("roc_auc", "pr_auc"):
        assert table.loc[churn_run.champion, metric] > table.loc["recency_only", metric]


def test_scores_one_row_per_eligible_customer(churn_run, synthetic_warehouse):
    db, _ = synthetic_warehouse
    con = duckdb.connect(str(db), read_only=True)
    eligible = con.execute("""
        select count(distinct customer_key) from marts.fct_orders
        where not is_cancelled and ordered_at < ? and ordered_at >= ? - interval 365 day
    """, [churn_run.scoring_as_of, churn_run.scoring_as_of]).fetchone()[0]
    con.close()
    scores = churn_run.scores
    assert len(scores) == eligible > 0
    assert scores.customer_key.is_unique
    assert scores.churn_probability.between(0, 1).all()
    high = scores.churn_probability >= 0.7
    assert (scores.risk_band[high] == "high").all()
    assert (scores.risk_band[scores.churn_probability < 0.4] == "low").all()
    assert scores.loc[high, "reason_1"].notna().mean() > 0.95
    assert scores.reason_1.dropna().str.contains(r"\(typical ").all()
    assert (scores.model_version == churn_run.model_version).all()


def test_outputs_written_and_rerun_is_idempotent(churn_run, synthetic_copy):
    db, _ = synthetic_copy
    con = duckdb.connect(str(db))
    for _ in range(2):
        rows = churn.write_outputs(con, churn_run)
    assert rows == len(churn_run.scores)
    runs = con.execute("select candidate, role, roc_auc, pr_auc, parameters, validation_as_of "
                       "from ml.model_runs where run_id = 'test-churn'").df()
    assert sorted(runs.candidate) == sorted(churn_run.comparison.candidate)
    assert runs.roc_auc.notna().all()
    assert (runs.validation_as_of.dt.date == churn_run.valid_as_of).all()
    assert con.execute("select count(*) from ml.churn_scores").fetchone()[0] == rows
    con.close()


def test_metrics_on_known_values():
    y = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    perfect = churn_metrics(y, [0.9, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == 1.0
    assert perfect["top_decile_lift"] == pytest.approx(5.0)  # top 1 of 10 is a churner, base 0.2
    assert top_decile_lift(y, [0.0] * 10) == pytest.approx(5.0)  # stable order: first row
    with pytest.raises(ValueError, match="churners and non-churners"):
        churn_metrics([1, 1], [0.5, 0.5])


def test_reasons_for_bgnbd_champion_when_typical_recency_exceeds_a_young_customers_age():
    """Regression (e2e run): occluding bg_recency with its median made recency > T for young
    customers, and BG/NBD refused the row, failing the whole churn asset."""
    import numpy as np
    import pandas as pd

    from ml.churn.candidates import BgNbdChurn, reasons

    rng = np.random.default_rng(7)
    n = 600
    age = rng.uniform(5, 700, n)
    frequency = rng.poisson(2, n).astype(float)
    recency = np.where(frequency > 0, age * rng.uniform(0.3, 1.0, n), 0.0)
    frame = pd.DataFrame({"bg_frequency": frequency, "bg_recency": recency, "bg_T": age})
    candidate = BgNbdChurn(horizon_days=90).fit(frame)
    young = frame["bg_T"] < candidate.reference["bg_recency"]
    assert young.any(), "the case needs customers younger than the typical recency"
    why = reasons(candidate, frame)
    assert len(why) == n
    probabilities = candidate.predict(frame)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
