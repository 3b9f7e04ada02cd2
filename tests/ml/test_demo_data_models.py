"""On the default demo data: the churn champion beats recency-only, the oracle comparison
table, and one row per eligible customer in every ml output. Prints the measured numbers."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from ml_demo_pipeline import build_demo_warehouse

from ml import churn, clusters, clv_scoring, early_warning

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("ml_demo")
    warehouse, truth = build_demo_warehouse(root)
    con = duckdb.connect(str(warehouse))
    artifacts = root / "artifacts"
    result = churn.train_and_score(con, truth_dir=truth, artifacts_root=artifacts)
    churn.write_outputs(con, result)
    clv = clv_scoring.score(con, artifacts_root=artifacts)
    clv_scoring.write_outputs(con, clv)
    segments = clusters.cluster_customers(con, artifacts_root=artifacts)
    clusters.write_outputs(con, segments)
    early_warning.write_alerts(con, early_warning.build_alerts(con))
    print(f"\nchurn on the default demo data: trained at {result.train_as_of}, validated at "
          f"{result.valid_as_of}, scored at {result.scoring_as_of}")
    print(result.metrics_markdown())
    print("CLV holdout:", {k: round(v, 3) for k, v in clv.runs[0].metrics.items()
                           if k.startswith("holdout")})
    print("clusters:", segments.k, "silhouette", round(segments.silhouette_by_k[segments.k], 3),
          list(segments.profile.label))
    yield con, result
    con.close()


def test_champion_beats_recency_only_on_demo_data(demo):
    _, result = demo
    table = result.comparison.set_index("candidate")
    assert result.champion != "recency_only"
    for metric in ("roc_auc", "pr_auc"):
        assert table.loc[result.champion, metric] > table.loc["recency_only", metric], metric


def test_oracle_is_the_ceiling_on_demo_data(demo):
    _, result = demo
    table = result.comparison.set_index("candidate")
    assert table.loc["oracle", "role"] == "ceiling"
    assert "1 of" not in (next(r.notes for r in result.runs if r.candidate == "oracle") or "")
    others = table.drop(index="oracle")
    assert table.loc["oracle", "roc_auc"] > others.roc_auc.max()
    assert table.loc["oracle", "pr_auc"] > others.pr_auc.max()


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
    unknown = con.execute("""select count(*) from marts.churn_alerts a
        anti join marts.dim_customer d using (customer_key)""").fetchone()[0]
    assert unknown == 0
    assert con.execute("select count(*) from marts.churn_alerts").fetchone()[0] > 0
    assert con.execute("select count(distinct model_name) from ml.model_runs").fetchone()[0] == 3
