"""Fixtures shared by tests/ml (the product's models) and tests/evaluation (the same runs
scored against the simulator's truth), each built once per session whichever folder asks
first: a synthetic warehouse with a known truth, and the default demo warehouse with every
ml output written."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent / "ml"))
import ml_synthetic_marts  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_warehouse(tmp_path_factory) -> tuple[Path, Path]:
    """(DuckDB file, truth dir) of a 3,000-person synthetic warehouse; read it, never write."""
    root = tmp_path_factory.mktemp("ml_synthetic")
    db, truth = root / "warehouse.duckdb", root / "sources" / "_truth"
    con = duckdb.connect(str(db))
    try:
        ml_synthetic_marts.write_warehouse(con, ml_synthetic_marts.simulate(3000, seed=11), truth)
    finally:
        con.close()
    return db, truth


@pytest.fixture(scope="session")
def demo_ml_warehouse(tmp_path_factory):
    """``(connection, churn result, truth dir)`` on the default demo data (the simulator
    configuration of ``make demo``) after every ml output was written. Slow: only tests
    marked ``slow`` use it."""
    from ml_demo_pipeline import build_demo_warehouse

    from ml.churn import early_warning, training
    from ml.clv import scoring as clv_scoring
    from ml.segments import clusters
    from ml.shared.settings import MlSettings

    root = tmp_path_factory.mktemp("ml_demo")
    warehouse, truth = build_demo_warehouse(root)
    con = duckdb.connect(str(warehouse))
    artifacts, settings = root / "artifacts", MlSettings()
    result = training.train_and_score(con, settings=settings, artifacts_root=artifacts)
    training.write_outputs(con, result)
    clv = clv_scoring.score(con, settings=settings, artifacts_root=artifacts)
    clv_scoring.write_outputs(con, clv)
    segments = clusters.cluster_customers(con, settings=settings, artifacts_root=artifacts)
    clusters.write_outputs(con, segments)
    early_warning.write_alerts(con, early_warning.build_alerts(con, settings=settings))
    print(f"\nchurn on the default demo data: trained at {result.train_as_of}, validated at "
          f"{result.valid_as_of}, scored at {result.scoring_as_of}")
    print(result.metrics_markdown())
    print("CLV holdout:", {k: round(v, 3) for k, v in clv.runs[0].metrics.items()
                           if k.startswith("holdout")})
    print("clusters:", segments.k, "silhouette", round(segments.silhouette_by_k[segments.k], 3),
          list(segments.profile.label))
    yield con, result, truth
    con.close()
