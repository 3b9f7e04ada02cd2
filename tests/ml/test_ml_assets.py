"""The Dagster ml assets materialize on a warehouse and show model metrics as metadata.
(The oracle row next to them is evaluation: tests/evaluation/test_evaluate_cli.py.)"""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb

from orchestration.defs.ml.assets import ML_ASSETS
from orchestration.defs.resources import warehouse_resource


def test_ml_assets_materialize_with_metrics_metadata(synthetic_warehouse, tmp_path,
                                                     monkeypatch):
    db, truth = synthetic_warehouse
    warehouse = tmp_path / "w" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy(db, warehouse)
    shutil.copytree(truth, tmp_path / "sources" / "_truth")
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("CRMW_SOURCES_DIR", str(tmp_path / "sources"))

    result = dg.materialize(ML_ASSETS, instance=dg.DagsterInstance.ephemeral(),
                            resources={"warehouse": warehouse_resource()})
    assert result.success
    meta = {m.asset_key.to_user_string(): m.metadata
            for m in result.get_asset_materialization_events() for m in [m.materialization]}
    churn = meta["ml/churn_scores"]
    assert "| champion |" in churn["metrics"].value and "oracle" not in churn["metrics"].value
    assert churn["champion_pr_auc"].value > 0
    assert churn["dagster/row_count"].value > 0
    assert meta["ml/customer_clusters"]["k"].value >= 2
    assert "holdout_total_ratio" in meta["ml/clv_scores"]
    assert meta["ml/churn_alerts"]["dagster/row_count"].value > 0
    assert "churn" in meta["ml/model_runs"]["latest_runs"].value

    con = duckdb.connect(str(warehouse), read_only=True)
    models = {r[0] for r in con.execute("select distinct model_name from ml.model_runs").fetchall()}
    con.close()
    assert models == {"churn", "clv", "clusters"}
    artifacts = list((tmp_path / "w" / "artifacts" / "models").glob("*/*/model.joblib"))
    assert {p.parent.parent.name for p in artifacts} == {"churn", "clv", "clusters"}
