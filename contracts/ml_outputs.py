"""Every table the models write, declared once: schema, columns, DuckDB types, descriptions.

Who reads this declaration, so the tables cannot drift apart:

* the writers in ``ml/`` create each table from it (:meth:`OutputTable.ddl`) and write their
  frames in its column order (``ml.shared.model_store``);
* ``dbt_project/models/marts/crm/_ml__sources.yml`` is rendered from it
  (:func:`render_dbt_sources`; ``python -m contracts.ml_outputs --write`` rewrites the file, and a
  test fails when the committed file differs), and dbt's ``ensure_ml_sources`` macro creates
  the tables a model reads, empty, from those source columns before the ml assets first run;
* ``warehouse/pii/consent.py`` reads the churn alerts by the name declared here.

Like everything in ``contracts/``, this module imports nothing of the project.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from contracts.generated_files import generated_files_main

ML_SCHEMA = "ml"
DBT_SOURCES_FILE = (Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "marts"
                    / "crm" / "_ml__sources.yml")


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # DuckDB type
    description: str


@dataclass(frozen=True)
class OutputTable:
    schema: str
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ddl(self, *, replace_existing: bool = False) -> str:
        """``create table`` with the declared columns and types (``if not exists``, or
        ``or replace`` with ``replace_existing``)."""
        verb = "create or replace table" if replace_existing else "create table if not exists"
        columns = ",\n".join(f"    {c.name} {c.data_type}" for c in self.columns)
        return f"{verb} {self.qualified_name} (\n{columns}\n)"

    def renamed(self, names: dict[str, str]) -> OutputTable:
        """The same table with some columns renamed (types and descriptions kept)."""
        unknown = set(names) - set(self.column_names)
        if unknown:
            raise KeyError(f"{self.qualified_name} has no column(s) {sorted(unknown)}")
        return replace(self, columns=tuple(replace(c, name=names.get(c.name, c.name))
                                           for c in self.columns))


def _scored(what: str) -> tuple[Column, ...]:
    """The bookkeeping columns every score table ends with."""
    return (
        Column("model_version", "varchar", f"version of the {what} that scored the row "
               "(matches ml.model_runs.model_version)"),
        Column("as_of_date", "date", "scoring date: only facts before it were used"),
        Column("scored_at", "timestamp", "when the row was computed (UTC)"),
    )


CHURN_SCORES = OutputTable(
    ML_SCHEMA, "churn_scores",
    "Churn probability (no purchase in the next 90 days), risk band, top reasons.",
    (
        Column("customer_key", "varchar", "the customer (eligible: an order in the last "
               "12 months)"),
        Column("churn_probability", "double", "calibrated probability of no purchase in "
               "the churn horizon"),
        Column("risk_band", "varchar", "high (>= 0.7), medium (>= 0.4) or low"),
        Column("reason_1", "varchar", "strongest reason for the risk: feature, value and "
               "typical value"),
        Column("reason_2", "varchar", "second reason, if any"),
        Column("reason_3", "varchar", "third reason, if any"),
        Column("model_name", "varchar", "the champion candidate that scored, e.g. "
               "gradient_boosting"),
        *_scored("churn model"),
    ),
)

CLV_SCORES = OutputTable(
    ML_SCHEMA, "clv_scores",
    "BG/NBD + Gamma-Gamma probability alive, expected purchases and 12-month CLV.",
    (
        Column("customer_key", "varchar", "the customer (every one with a purchase)"),
        Column("probability_alive", "double", "BG/NBD probability the customer is still "
               "active"),
        Column("expected_purchases_12m", "double", "expected purchase days in the CLV "
               "horizon"),
        Column("probability_no_purchase_12m", "double", "probability of no purchase in the "
               "CLV horizon"),
        Column("expected_order_value", "double", "Gamma-Gamma expected spend per purchase"),
        Column("expected_revenue_12m", "double", "expected purchases x expected order value"),
        Column("margin_rate", "double", "the customer's gross-margin rate (overall rate when "
               "unknown)"),
        Column("clv_12m", "double", "discounted expected gross margin over the CLV horizon"),
        Column("simple_rule_clv", "double", "baseline: annual spend x expected lifetime x "
               "margin - acquisition cost"),
        Column("frequency", "bigint", "repeat purchase days before the scoring date"),
        Column("days_since_last_purchase", "bigint", "days from the last purchase to the "
               "scoring date"),
        Column("tenure_days", "bigint", "days from the first purchase to the scoring date"),
        *_scored("CLV model"),
    ),
)
# With a CLV horizon other than 12 months the horizon columns say so in their names.
CLV_HORIZON_COLUMNS = {
    "expected_purchases_12m": "expected_purchases_horizon",
    "probability_no_purchase_12m": "probability_no_purchase_horizon",
    "expected_revenue_12m": "expected_revenue_horizon",
    "clv_12m": "clv_horizon",
}

CUSTOMER_CLUSTERS = OutputTable(
    ML_SCHEMA, "customer_clusters",
    "K-means behaviour segment and its readable label.",
    (
        Column("customer_key", "varchar", "the customer (every one with a purchase)"),
        Column("cluster_id", "bigint", "K-means cluster number"),
        Column("cluster_label", "varchar", "readable label of the cluster, e.g. 'Active "
               "high-value online shoppers'"),
        Column("distance_to_center", "double", "distance to the cluster centre in "
               "standardized feature space"),
        Column("recency_days", "double", "days since the last purchase"),
        Column("frequency_total", "double", "orders ever"),
        Column("monetary_avg_order", "double", "average order value"),
        Column("spend_12m", "double", "spend in the last 12 months"),
        Column("tenure_days", "double", "days since the first purchase"),
        Column("sessions_12m", "double", "web sessions in the last 12 months"),
        Column("session_conversion_12m", "double", "share of sessions with a purchase"),
        Column("return_rate_12m", "double", "share of spend returned"),
        Column("tickets_12m", "double", "support tickets in the last 12 months"),
        Column("web_order_share_12m", "double", "share of orders placed online"),
        *_scored("clustering"),
    ),
)

MODEL_RUNS = OutputTable(
    ML_SCHEMA, "model_runs",
    "One row per model candidate per run: version, parameters, training window, metrics.",
    (
        Column("run_id", "varchar", "the run (one per asset materialization)"),
        Column("model_name", "varchar", "churn, clv or clusters"),
        Column("candidate", "varchar", "e.g. logistic_regression, gradient_boosting, oracle"),
        Column("role", "varchar", "champion, challenger, baseline, candidate, model, or "
               "ceiling (the oracle, written by evaluation/)"),
        Column("model_version", "varchar", "UTC timestamp and hash of model and parameters"),
        Column("trained_at", "timestamp", "when the model was trained (UTC)"),
        Column("training_window_start", "date", "first day of data the training used"),
        Column("training_window_end", "date", "day after the last day of data the training "
               "used"),
        Column("validation_as_of", "date", "as-of date the candidate was validated at"),
        Column("scoring_as_of", "date", "scoring date of the run"),
        Column("parameters", "json", "the candidate's parameters"),
        Column("metrics", "json", "every metric of the candidate"),
        Column("roc_auc", "double", "validation ROC AUC (churn)"),
        Column("pr_auc", "double", "validation PR AUC, the selection metric (churn)"),
        Column("brier_score", "double", "validation Brier score (churn)"),
        Column("top_decile_lift", "double", "churn rate in the top-scored 10% over the base "
               "rate (churn)"),
        Column("n_train", "bigint", "rows the candidate was fitted on"),
        Column("n_validation", "bigint", "rows it was validated on"),
        Column("artifact_path", "varchar", "directory of the stored model (joblib + card)"),
        Column("notes", "varchar", "what else a reader should know about the run"),
    ),
)

CHURN_ALERTS = OutputTable(
    ML_SCHEMA, "churn_alerts",
    "Early-warning rules that fired: one row per customer and rule, with evidence and action.",
    (
        Column("customer_key", "varchar", "the customer"),
        Column("rule_id", "varchar", "the rule that fired"),
        Column("rule_description", "varchar", "what the rule means"),
        Column("evidence", "varchar", "the customer's values that made it fire"),
        Column("segment", "varchar", "RFM segment (marts.customer_rfm), 'unknown' without one"),
        Column("suggested_action", "varchar", "win-back action for the rule and segment"),
        Column("churn_probability", "double", "the churn model's probability "
               "(ml.churn_scores)"),
        Column("risk_band", "varchar", "the churn model's risk band"),
        Column("as_of_date", "date", "the as-of date of the features the rules read"),
        Column("created_at", "timestamp", "when the alert was computed (UTC)"),
    ),
)

ML_OUTPUTS: tuple[OutputTable, ...] = (CHURN_SCORES, CLV_SCORES, CUSTOMER_CLUSTERS,
                                       MODEL_RUNS, CHURN_ALERTS)


def render_dbt_sources(tables: tuple[OutputTable, ...] = ML_OUTPUTS) -> str:
    """The dbt sources YAML of the ML outputs (the content of ``_ml__sources.yml``)."""
    lines = [
        "version: 2",
        "# Generated from contracts/ml_outputs.py (python -m contracts.ml_outputs --write).",
        "# Written by the Dagster ml assets (orchestration/defs/ml, plain Python in ml/); the",
        "# asset keys make the UI lineage read raw -> marts -> ml -> customer_360.",
        "sources:",
        f"  - name: {ML_SCHEMA}",
        f"    schema: {ML_SCHEMA}",
        "    description: Model outputs written by the ml assets (group ml).",
        "    tables:",
    ]
    for table in tables:
        if table.schema != ML_SCHEMA:
            raise ValueError(f"{table.qualified_name} is not in schema {ML_SCHEMA}")
        lines += [
            f"      - name: {table.name}",
            f"        description: {json.dumps(table.description)}",
            "        meta:",
            "          dagster:",
            f"            asset_key: [\"{table.schema}\", \"{table.name}\"]",
            "        columns:",
        ]
        for column in table.columns:
            lines += [
                f"          - name: {column.name}",
                f"            data_type: {column.data_type}",
                f"            description: {json.dumps(column.description)}",
            ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m contracts.ml_outputs [--check | --write]``: print, check or rewrite the
    dbt sources of the ML outputs (the same flags as ``python -m contracts.dbt_sources``)."""
    return generated_files_main("python -m contracts.ml_outputs",
                                "Render the dbt source YAML of the ML outputs from "
                                "contracts/ml_outputs.py.",
                                lambda: {DBT_SOURCES_FILE: render_dbt_sources()}, argv)


if __name__ == "__main__":
    sys.exit(main())
