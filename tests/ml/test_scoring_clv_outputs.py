"""ml.clv_scores: one row per purchasing customer, sane values, runs recorded.

(The CLV math itself is tested by its owner in tests/ml/test_clv*.py.)
"""

from __future__ import annotations

import duckdb
import numpy as np

from ml.clv import scoring as clv_scoring
from ml.shared.features import default_scoring_date


def test_clv_scores_for_every_purchasing_customer(synthetic_copy, tmp_path):
    db, _ = synthetic_copy
    con = duckdb.connect(str(db))
    result = clv_scoring.score(con, run_id="test-clv", artifacts_root=tmp_path / "a")
    rows = clv_scoring.write_outputs(con, result)
    rows_again = clv_scoring.write_outputs(con, result)
    purchasers = con.execute("select count(distinct customer_key) from marts.fct_orders "
                             "where not is_cancelled and ordered_at < ?",
                             [default_scoring_date(con)]).fetchone()[0]
    assert rows == rows_again == purchasers
    s = con.execute("select * from ml.clv_scores").df()
    assert s.customer_key.is_unique
    assert s.probability_alive.between(0, 1).all()
    assert (s.expected_purchases_12m >= 0).all() and (s.clv_12m >= 0).all()
    np.testing.assert_allclose(s.expected_revenue_12m,
                               s.expected_purchases_12m * s.expected_order_value)
    # the discounted margin CLV is below the undiscounted expected margin
    assert (s.clv_12m <= s.expected_revenue_12m * s.margin_rate + 1e-9).all()
    # recently active, frequent customers are more likely alive than long-silent ones
    recent = s[(s.days_since_last_purchase <= 30) & (s.frequency >= 3)].probability_alive.mean()
    silent = s[(s.days_since_last_purchase >= 365) & (s.frequency >= 3)].probability_alive.mean()
    assert recent > silent
    runs = con.execute("select candidate, role, metrics from ml.model_runs "
                       "where run_id = 'test-clv' order by candidate").df()
    assert list(runs.candidate) == ["bgnbd_gamma_gamma", "simple_rule"]
    model = result.runs[0].metrics
    print(f"\nCLV holdout ({model['holdout_days']:.0f} days): expected "
          f"{model['holdout_expected_purchases']:.0f} vs actual "
          f"{model['holdout_actual_purchases']:.0f} purchases, per-customer correlation "
          f"{model['holdout_correlation']:.3f}")
    assert 0.8 < model["holdout_total_ratio"] < 1.25
    con.close()
