"""On the default demo data: the churn champion beats recency-only and one row per eligible
customer in every ml output. Prints the measured numbers. (The oracle comparison on the same
data is evaluation: tests/evaluation/test_oracle_on_demo_data.py.)"""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(demo_ml_warehouse):
    """(connection, churn result) of the session's demo warehouse (tests/conftest.py)."""
    con, result, _ = demo_ml_warehouse
    return con, result


def test_champion_beats_recency_only_on_demo_data(demo):
    _, result = demo
    table = result.comparison.set_index("candidate")
    assert result.champion != "recency_only"
    for metric in ("roc_auc", "pr_auc"):
        assert table.loc[result.champion, metric] > table.loc["recency_only", metric], metric


def test_one_row_per_eligible_customer_in_every_output(demo):
    con, result = demo
    s = result.scoring_as_of
    year_ago = s - dt.timedelta(days=365)
    active = con.execute("""select count(distinct customer_key) from marts.fct_orders
        where customer_key is not null and not is_cancelled and ordered_at < ?
          and ordered_at >= ?""", [s, year_ago]).fetchone()[0]
    purchasers = con.execute("""select count(distinct customer_key) from marts.fct_orders
        where customer_key is not null and not is_cancelled and ordered_at < ?""",
                             [s]).fetchone()[0]
    for table, expected in (("ml.churn_scores", active), ("ml.clv_scores", purchasers),
                            ("ml.customer_clusters", purchasers)):
        rows, keys = con.execute(
            f"select count(*), count(distinct customer_key) from {table}").fetchone()
        assert rows == keys == expected > 100, table
    unknown = con.execute("""select count(*) from ml.churn_alerts a
        anti join marts.dim_customer d using (customer_key)""").fetchone()[0]
    assert unknown == 0
    assert con.execute("select count(*) from ml.churn_alerts").fetchone()[0] > 0
    assert con.execute("select count(distinct model_name) from ml.model_runs").fetchone()[0] == 3
