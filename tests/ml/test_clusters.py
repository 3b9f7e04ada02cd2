"""Clusters: k chosen by silhouette, one row per purchasing customer, readable labels."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd

from ml.segments import clusters
from ml.shared.features import default_scoring_date


def test_k_by_silhouette_rows_and_readable_labels(synthetic_copy, tmp_path):
    db, _ = synthetic_copy
    con = duckdb.connect(str(db))
    result = clusters.cluster_customers(con, artifacts_root=tmp_path / "artifacts",
                                        run_id="test-clusters")
    print("\nsilhouette by k:", {k: round(v, 3) for k, v in result.silhouette_by_k.items()})
    print(result.profile[["cluster_id", "label", "customers", "recency_days",
                          "value_index"]].to_string(index=False))
    assert set(result.silhouette_by_k) == set(clusters.K_RANGE)
    assert result.k == max(result.silhouette_by_k, key=result.silhouette_by_k.get)
    labels = list(result.profile.label)
    assert len(labels) == result.k == len(set(labels))
    for label in labels:
        assert re.fullmatch(r"(Active|Cooling|Lapsed)( [a-z-]+)+", label), label
        assert "cluster" not in label.lower()
    # lapsed labels go to the clusters with the longest mean recency, active to the shortest
    by_recency = result.profile.sort_values("recency_days")
    assert not by_recency.label.iloc[0].startswith("Lapsed")
    assert not by_recency.label.iloc[-1].startswith("Active")

    rows = clusters.write_outputs(con, result)
    purchasers = con.execute("select count(distinct customer_key) from marts.fct_orders "
                             "where not is_cancelled and ordered_at < ?",
                             [default_scoring_date(con)]).fetchone()[0]
    assert rows == purchasers
    out = con.execute("select customer_key, cluster_id, cluster_label from ml.customer_clusters"
                      ).df()
    assert out.customer_key.is_unique
    assert out.groupby("cluster_id").cluster_label.nunique().eq(1).all()
    assert con.execute("select k from (select metrics->>'$.k' as k from ml.model_runs "
                       "where run_id = 'test-clusters')").fetchone()[0] == str(float(result.k))
    con.close()


def test_label_collisions_are_resolved_with_traits():
    columns = list(clusters.CLUSTER_FEATURES)
    profile = pd.DataFrame([{**dict.fromkeys(columns, 1.0), "recency_days": 30.0,
                             "web_order_share_12m": 0.9, "value_index": 1.0}] * 2)
    z = pd.DataFrame(np.zeros((2, len(columns))), columns=columns)
    z.loc[0, "frequency_total"], z.loc[1, "tenure_days"] = 0.5, -0.6  # weak, but they differ
    labels = clusters.label_clusters(profile, z)
    assert labels == ["Active mid-value frequent online shoppers",
                      "Active mid-value new online shoppers"]
