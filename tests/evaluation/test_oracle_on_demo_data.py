"""On the default demo data, the oracle (the simulator's truth) is the ceiling of the churn
candidates, and every validation customer maps to a person of the truth."""

from __future__ import annotations

import pytest

from evaluation.churn_oracle import churn_comparison, record_oracle_run

pytestmark = pytest.mark.slow


def test_oracle_is_the_ceiling_on_demo_data(demo_ml_warehouse):
    con, result, truth = demo_ml_warehouse
    oracle = record_oracle_run(con, truth)
    assert oracle.run is not None and oracle.run.run_id == result.runs[0].run_id
    table = churn_comparison(con, oracle.run.run_id).set_index("candidate")
    print(table.to_string())
    assert table.loc["oracle", "role"] == "ceiling"
    assert "1 of" not in (oracle.run.notes or "")
    others = table.drop(index="oracle")
    assert table.loc["oracle", "roc_auc"] > others.roc_auc.max()
    assert table.loc["oracle", "pr_auc"] > others.pr_auc.max()
