"""Where fitted models and their run records go: artifacts on disk, one row per candidate in
``ml.model_runs``.

Why both: the artifact (joblib + a JSON card) lets anyone reload exactly the model that
produced a score; the ``ml.model_runs`` table lets BI and the Dagster UI compare runs and
candidates over time without unpickling anything. Artifacts live under
``<warehouse dir>/artifacts/models/<model>/<version>/`` (git-ignored, never committed).

Re-running a step is idempotent: rows of the same ``run_id`` are replaced, not duplicated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import joblib
import pandas as pd

from warehouse.config import settings

ML_SCHEMA = "ml"
MODEL_RUNS_DDL = f"""
create table if not exists {ML_SCHEMA}.model_runs (
    run_id varchar not null,
    model_name varchar not null,
    candidate varchar not null,
    role varchar not null,
    model_version varchar not null,
    trained_at timestamp not null,
    training_window_start date,
    training_window_end date,
    validation_as_of date,
    scoring_as_of date,
    parameters json,
    metrics json,
    roc_auc double,
    pr_auc double,
    brier_score double,
    top_decile_lift double,
    n_train bigint,
    n_validation bigint,
    artifact_path varchar,
    notes varchar
)
"""
METRIC_COLUMNS = ("roc_auc", "pr_auc", "brier_score", "top_decile_lift")


@dataclass
class ModelRun:
    """One candidate's record in ``ml.model_runs``."""

    run_id: str
    model_name: str  # churn | clv | clusters
    candidate: str  # e.g. logistic_regression, gradient_boosting, oracle
    role: str  # champion | challenger | baseline | ceiling | candidate | model
    model_version: str
    trained_at: dt.datetime
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    training_window_start: dt.date | None = None
    training_window_end: dt.date | None = None
    validation_as_of: dt.date | None = None
    scoring_as_of: dt.date | None = None
    n_train: int | None = None
    n_validation: int | None = None
    artifact_path: str | None = None
    notes: str | None = None

    def as_row(self) -> dict[str, Any]:
        row = {k: getattr(self, k) for k in (
            "run_id", "model_name", "candidate", "role", "model_version", "trained_at",
            "training_window_start", "training_window_end", "validation_as_of",
            "scoring_as_of", "n_train", "n_validation", "artifact_path", "notes")}
        row["parameters"] = json.dumps(self.parameters, default=str, sort_keys=True)
        row["metrics"] = json.dumps(_finite(self.metrics), sort_keys=True)
        for name in METRIC_COLUMNS:
            value = self.metrics.get(name)
            row[name] = float(value) if value is not None and math.isfinite(value) else None
        return row


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (float(v) if v is not None and math.isfinite(float(v)) else None)
            for k, v in metrics.items()}


def new_version(model_name: str, parameters: dict[str, Any], now: dt.datetime | None = None) -> str:
    """``<UTC timestamp>-<hash of model+parameters>``: sortable, and different parameters
    never share a version."""
    now = now or utc_now()
    digest = hashlib.sha1(
        json.dumps({"model": model_name, **parameters}, default=str, sort_keys=True).encode()
    ).hexdigest()[:8]
    return f"{now:%Y%m%dT%H%M%SZ}-{digest}"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def artifact_dir(model_name: str, version: str, root: Path | None = None) -> Path:
    root = root or settings().artifacts_dir
    return root / "models" / model_name / version


def save_artifact(model_name: str, version: str, obj: Any, card: dict[str, Any],
                  root: Path | None = None) -> Path:
    """Store the fitted object (joblib) and a readable JSON card next to it."""
    target = artifact_dir(model_name, version, root)
    target.mkdir(parents=True, exist_ok=True)
    joblib.dump(obj, target / "model.joblib")
    (target / "card.json").write_text(json.dumps(card, indent=2, default=str, sort_keys=True))
    return target


def load_artifact(path: Path) -> Any:
    return joblib.load(Path(path) / "model.joblib")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {ML_SCHEMA}")
    con.execute(MODEL_RUNS_DDL)


def record_runs(con: duckdb.DuckDBPyConnection, runs: list[ModelRun]) -> int:
    """Append the candidates of a run to ``ml.model_runs`` (replacing the same run_id)."""
    if not runs:
        return 0
    ensure_schema(con)
    frame = pd.DataFrame([r.as_row() for r in runs])
    columns = [r[0] for r in con.execute(f"describe {ML_SCHEMA}.model_runs").fetchall()]
    frame = frame[columns]
    con.execute("begin")
    try:
        for run_id in frame.run_id.unique():
            con.execute(f"delete from {ML_SCHEMA}.model_runs where run_id = ?", [run_id])
        con.register("_runs", frame)
        con.execute(f"insert into {ML_SCHEMA}.model_runs select * from _runs")
        con.unregister("_runs")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(frame)


def replace_table(con: duckdb.DuckDBPyConnection, qualified_name: str,
                  frame: pd.DataFrame) -> int:
    """Replace a whole output table with ``frame`` in one statement (idempotent re-runs)."""
    schema = qualified_name.split(".")[0]
    con.execute(f"create schema if not exists {schema}")
    con.register("_out", frame)
    try:
        con.execute(f"create or replace table {qualified_name} as select * from _out")
    finally:
        con.unregister("_out")
    return int(con.execute(f"select count(*) from {qualified_name}").fetchone()[0])


def metrics_markdown(runs: list[ModelRun]) -> str:
    """The side-by-side metrics table shown as Dagster metadata and printed by the tests."""
    names = sorted({k for r in runs for k in r.metrics}, key=lambda k: (
        METRIC_COLUMNS.index(k) if k in METRIC_COLUMNS else len(METRIC_COLUMNS), k))
    lines = ["| candidate | role | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for r in runs:
        cells = []
        for n in names:
            v = r.metrics.get(n)
            cells.append("" if v is None or not math.isfinite(v) else f"{v:.4f}")
        lines.append(f"| {r.candidate} | {r.role} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def frame_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A small DataFrame as a markdown table (without the optional ``tabulate`` package)."""
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if not math.isfinite(value) else f"{value:.{digits}g}"
        return "" if value is None else str(value).replace("|", "/")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)
