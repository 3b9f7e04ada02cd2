"""Where fitted models and their run records go: artifacts on disk, one row per candidate in
``ml.model_runs``, and the score tables, all in the shape ``contracts/ml_outputs.py`` declares.

Why both: the artifact (joblib + a JSON card) lets anyone reload exactly the model that
produced a score; the ``ml.model_runs`` table lets BI and the Dagster UI compare runs and
candidates over time without unpickling anything. Artifacts live under
``<artifacts root>/models/<model>/<version>/`` (the caller passes the root: the Dagster assets
use ``<warehouse dir>/artifacts``, git-ignored, never committed).

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

from contracts.ml_outputs import ML_SCHEMA, MODEL_RUNS, OutputTable

MODEL_RUNS_DDL = MODEL_RUNS.ddl()
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
        """The row of ``ml.model_runs``, in its declared column order."""
        row = {k: getattr(self, k) for k in MODEL_RUNS.column_names
               if k not in ("parameters", "metrics", *METRIC_COLUMNS)}
        row["parameters"] = json.dumps(self.parameters, default=str, sort_keys=True)
        row["metrics"] = json.dumps(_finite(self.metrics), sort_keys=True)
        for name in METRIC_COLUMNS:
            value = self.metrics.get(name)
            row[name] = float(value) if value is not None and math.isfinite(value) else None
        return {k: row[k] for k in MODEL_RUNS.column_names}


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


def artifact_dir(model_name: str, version: str, root: Path) -> Path:
    return Path(root) / "models" / model_name / version


def save_artifact(model_name: str, version: str, obj: Any, card: dict[str, Any],
                  root: Path) -> Path:
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
    """Record the candidates of a run in ``ml.model_runs``, replacing every earlier row of the
    same run_id (a re-run of a step rewrites its whole run)."""
    return _write_runs(con, runs, ("run_id",))


def add_runs(con: duckdb.DuckDBPyConnection, runs: list[ModelRun]) -> int:
    """Add candidates to runs already in ``ml.model_runs`` (e.g. the oracle row evaluation
    writes next to a churn training), replacing only rows of the same run and candidate."""
    return _write_runs(con, runs, ("run_id", "model_name", "candidate"))


def _write_runs(con: duckdb.DuckDBPyConnection, runs: list[ModelRun],
                key: tuple[str, ...]) -> int:
    if not runs:
        return 0
    ensure_schema(con)
    frame = pd.DataFrame([r.as_row() for r in runs], columns=MODEL_RUNS.column_names)
    match = " and ".join(f"{k} = ?" for k in key)
    con.execute("begin")
    try:
        for values in frame[list(key)].drop_duplicates().itertuples(index=False):
            con.execute(f"delete from {MODEL_RUNS.qualified_name} where {match}", list(values))
        con.register("_runs", frame)
        con.execute(f"insert into {MODEL_RUNS.qualified_name} by name select * from _runs")
        con.unregister("_runs")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(frame)


def replace_table(con: duckdb.DuckDBPyConnection, table: OutputTable,
                  frame: pd.DataFrame) -> int:
    """Replace a whole output table with ``frame`` (idempotent re-runs), created with the
    declared columns and types; ``frame`` must hold exactly the declared columns."""
    if list(frame.columns) != table.column_names:
        raise ValueError(f"{table.qualified_name}: the frame's columns {list(frame.columns)} "
                         f"are not the declared ones {table.column_names} "
                         "(contracts/ml_outputs.py)")
    con.execute(f"create schema if not exists {table.schema}")
    con.register("_out", frame)
    try:
        con.execute("begin")
        try:
            con.execute(table.ddl(replace_existing=True))
            con.execute(f"insert into {table.qualified_name} select * from _out")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.unregister("_out")
    return int(con.execute(f"select count(*) from {table.qualified_name}").fetchone()[0])


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
