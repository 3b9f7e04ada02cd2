"""Thin Dagster assets over ``ml/``: read features from the marts, write scores to ``ml``.

Each asset opens the build warehouse through the ``warehouse`` resource (one writer:
``pool=WAREHOUSE_WRITER_POOL``), reads the ``CRMW_ML_*`` settings once
(:func:`orchestration.defs.ml.settings.ml_settings_from_env`), calls one plain-Python
function to score and one to write, and reports what the model did as asset metadata
(metrics table, parameters, training window, version, rows), so every run's numbers are in
the Dagster UI next to the ``ml.model_runs`` rows written by the same call.
"""

import json
from collections.abc import Callable

import dagster as dg

from contracts import ml_outputs
from ml.churn import early_warning, refit, training
from ml.clv import scoring as clv_scoring
from ml.segments import clusters
from ml.shared import model_store
from orchestration.defs.ml.settings import ml_settings_from_env
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from warehouse.config import settings

OWNERS = ["team:ml"]
GROUP = "ml"
MART_DEPS = [dg.AssetKey(["marts", name]) for name in (
    "fct_orders", "fct_sessions", "fct_tickets", "fct_survey_responses", "fct_reviews",
    "dim_customer")]
CUSTOMER_RFM = dg.AssetKey(["marts", "customer_rfm"])


def output_key(table: ml_outputs.OutputTable) -> dg.AssetKey:
    """The asset key of an ML output table: ``[schema, name]``, like every table asset."""
    return dg.AssetKey([table.schema, table.name])


CHURN_SCORES = output_key(ml_outputs.CHURN_SCORES)
CLV_SCORES = output_key(ml_outputs.CLV_SCORES)
CUSTOMER_CLUSTERS = output_key(ml_outputs.CUSTOMER_CLUSTERS)
MODEL_RUNS = output_key(ml_outputs.MODEL_RUNS)
CHURN_ALERTS = output_key(ml_outputs.CHURN_ALERTS)


def _score_and_write(warehouse: WarehouseResource, score: Callable, write: Callable,
                     **kwargs):
    """``(result, rows)``: ``score(con, settings=..., artifacts_root=..., **kwargs)`` then
    ``write(con, result)`` on one connection, the shape of every model asset below."""
    with warehouse.get_connection() as con:
        result = score(con, settings=ml_settings_from_env(),
                       artifacts_root=settings().artifacts_dir, **kwargs)
        return result, write(con, result)


def _json(value) -> dg.MetadataValue:
    return dg.MetadataValue.json(json.loads(json.dumps(value, default=str)))


def _numeric(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, int | float) and v == v}  # drop NaN


@dg.asset(
    key=CHURN_SCORES, deps=MART_DEPS, group_name=GROUP, owners=OWNERS,
    kinds={"scikit-learn", "duckdb"}, pool=WAREHOUSE_WRITER_POOL,
    description=(
        "Churn probability (no purchase in the next 90 days) for every customer active in the "
        "last 12 months, with risk band and top three reasons. Candidates (recency-only, "
        "BG/NBD, logistic regression, gradient boosting) are trained at an earlier as-of date "
        "and validated at a later one; the best PR AUC becomes the champion. Every "
        "candidate's metrics go to ml.model_runs. Between refits (every CRMW_ML_REFIT_DAYS "
        "days of data, default 7) the latest champion scores with today's features "
        "(ml/churn/refit.py)."),
)
def churn_scores(context: dg.AssetExecutionContext,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    result, rows = _score_and_write(warehouse, refit.score_churn, training.write_outputs,
                                    run_id=f"churn-{context.run_id[:8]}")
    champion = next(r for r in result.runs if r.role == "champion")
    context.log.info(f"churn champion {result.champion}:\n{result.metrics_markdown()}")
    return dg.MaterializeResult(metadata={
        "metrics": dg.MetadataValue.md(result.metrics_markdown()),
        "champion": result.champion,
        "challenger": result.challenger or "",
        "model_version": result.model_version,
        "refit": result.refit,
        "training_window": f"features before {result.train_as_of}, labels "
                           f"{result.train_as_of} to {result.valid_as_of}",
        "validation_as_of": str(result.valid_as_of),
        "scoring_as_of": str(result.scoring_as_of),
        "parameters": _json(champion.parameters),
        "artifact": dg.MetadataValue.path(str(result.artifact_path)),
        "dagster/row_count": rows,
        "high_risk_customers": int((result.scores.risk_band == "high").sum()),
        **{f"champion_{k}": v for k, v in _numeric(champion.metrics).items()},
    })


@dg.asset(
    key=CLV_SCORES, deps=MART_DEPS, group_name=GROUP, owners=OWNERS,
    kinds={"scipy", "duckdb"}, pool=WAREHOUSE_WRITER_POOL,
    description=(
        "Customer lifetime value for every customer with a purchase: probability alive, "
        "expected purchases, expected spend and discounted 12-month CLV on product margin "
        "(BG/NBD + Gamma-Gamma, ml/clv/), next to the business's simple-rule baseline."),
)
def clv_scores(context: dg.AssetExecutionContext,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
    result, rows = _score_and_write(warehouse, clv_scoring.score, clv_scoring.write_outputs,
                                    run_id=f"clv-{context.run_id[:8]}")
    model = result.runs[0]
    return dg.MaterializeResult(metadata={
        "metrics": dg.MetadataValue.md(model_store.metrics_markdown(result.runs)),
        "model_version": result.model_version,
        "scoring_as_of": str(result.scoring_as_of),
        "training_window": f"all purchases before {result.scoring_as_of}",
        "parameters": _json(result.parameters),
        "artifact": dg.MetadataValue.path(model.artifact_path or ""),
        "dagster/row_count": rows,
        **_numeric(model.metrics),
    })


@dg.asset(
    key=CUSTOMER_CLUSTERS, deps=MART_DEPS, group_name=GROUP, owners=OWNERS,
    kinds={"scikit-learn", "duckdb"}, pool=WAREHOUSE_WRITER_POOL,
    description=(
        "K-means segments on standardized RFM and behaviour features for every customer with "
        "a purchase; k chosen by silhouette over 2..8, each cluster profiled and labelled."),
)
def customer_clusters(context: dg.AssetExecutionContext,
                      warehouse: WarehouseResource) -> dg.MaterializeResult:
    result, rows = _score_and_write(warehouse, clusters.cluster_customers,
                                    clusters.write_outputs,
                                    run_id=f"clusters-{context.run_id[:8]}")
    profile = result.profile
    return dg.MaterializeResult(metadata={
        "k": result.k,
        "silhouette": result.silhouette_by_k[result.k],
        "silhouette_by_k": _json({str(k): round(v, 4) for k, v in
                                  result.silhouette_by_k.items()}),
        "profile": dg.MetadataValue.md(model_store.frame_markdown(profile)),
        "labels": _json(dict(zip(result.profile.cluster_id.astype(str),
                                 result.profile.label, strict=True))),
        "model_version": result.model_version,
        "parameters": _json(result.runs[0].parameters),
        "dagster/row_count": rows,
    })


@dg.asset(
    key=MODEL_RUNS, deps=[CHURN_SCORES, CLV_SCORES, CUSTOMER_CLUSTERS], group_name=GROUP,
    owners=OWNERS, kinds={"duckdb"}, pool=WAREHOUSE_WRITER_POOL,
    description=(
        "History of every model run: version, parameters, training window and metrics of each "
        "candidate (written by the model assets); this asset reports the latest runs."),
)
def model_runs(context: dg.AssetExecutionContext,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        model_store.ensure_schema(con)
        latest = con.execute("""
            select model_name, candidate, role, model_version, roc_auc, pr_auc, brier_score,
                   top_decile_lift, trained_at
            from ml.model_runs
            qualify dense_rank() over (partition by model_name order by trained_at desc) = 1
            order by model_name, role, candidate""").df()
        total = con.execute("select count(*) from ml.model_runs").fetchone()[0]
    return dg.MaterializeResult(metadata={
        "latest_runs": dg.MetadataValue.md(model_store.frame_markdown(latest)),
        "dagster/row_count": int(total),
    })


@dg.asset(
    key=CHURN_ALERTS, deps=[*MART_DEPS, CUSTOMER_RFM, CHURN_SCORES], group_name=GROUP,
    owners=OWNERS, kinds={"duckdb"}, pool=WAREHOUSE_WRITER_POOL,
    description=(
        "Early-warning rules the business asked for (e.g. no purchase for 90 days with an "
        "unresolved complaint; spend over the last two months below half the customer's own "
        "average): one row per customer and fired rule, with evidence, RFM segment, suggested "
        "win-back action and the churn model's probability."),
)
def churn_alerts(context: dg.AssetExecutionContext,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.get_connection() as con:
        alerts = early_warning.build_alerts(con, settings=ml_settings_from_env())
        rows = early_warning.write_alerts(con, alerts)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "customers_alerted": int(alerts.customer_key.nunique()),
        "alerts_by_rule": _json(alerts.rule_id.value_counts().to_dict()),
    })


ML_ASSETS = [churn_scores, clv_scores, customer_clusters, model_runs, churn_alerts]
