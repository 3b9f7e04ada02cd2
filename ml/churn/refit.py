"""Score churn every run, refit it every ``MlSettings.refit_days`` days of data (default 7,
``CRMW_ML_REFIT_DAYS``).

Why: validating four candidates at two as-of dates and refitting the champion is most of the
ML stage (at 1,000,000 customers, most of the churn step), and a nightly run adds one day of
data to a model fitted on a year of history and labelled over a 90-day horizon. So a run
whose scoring date is less than ``CRMW_ML_REFIT_DAYS`` after the scoring date of the latest
trained champion reloads that champion's artifact and scores everyone eligible today with
today's features and reasons; every ``CRMW_ML_REFIT_DAYS`` days of data (and whenever the
champion cannot be reused) :func:`ml.churn.training.train_and_score` runs in full.

The champion is retrained at once, whatever its age, when:
* there is no trained champion yet, or its artifact is gone or cannot be loaded;
* the churn windows (``CRMW_ML_CHURN_HORIZON_DAYS``, ``CRMW_ML_ACTIVE_LOOKBACK_DAYS``)
  differ from the ones it was trained with;
* the scoring date is earlier than the one it was trained for (``MlSettings.as_of``, from
  ``CRMW_ML_AS_OF``, moved back);
* the features it reads are no longer all in the feature table;
* ``CRMW_ML_REFIT_DAYS=0`` (refit on every run).

A rescoring run is recorded in ``ml.model_runs`` as one ``champion`` row with the model's own
version, training date and validation metrics, the new scoring date, and a note saying which
training it reuses and when the next refit is due.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ml.churn.candidates import reasons
from ml.churn.training import (
    ChurnResult,
    bgnbd_inputs,
    score_table,
    train_and_score,
    with_bgnbd_inputs,
)
from ml.shared import model_store
from ml.shared.features import build_features, scoring_date
from ml.shared.settings import ChurnWindows, MlSettings
from ml.shared.threads import with_bounded_threads

# The setting's name as operators know it, quoted in the reasons and notes below.
REFIT_DAYS_ENV = "CRMW_ML_REFIT_DAYS"
# What rescoring reads from the card of the champion's artifact (ml/churn/training.py writes
# it).
CARD_KEYS = {"champion", "parameters", "run_id", "train_as_of", "valid_as_of", "scoring_as_of"}


@dataclass
class TrainedChampion:
    """The latest trained churn champion: its artifact (loaded), the card stored with it, and
    its record in ``ml.model_runs`` (training date, parameters, validation metrics)."""

    model: Any
    card: dict[str, Any]
    record: dict[str, Any]
    artifact_path: Path

    @property
    def version(self) -> str:
        return self.record["model_version"]

    @property
    def trained_for(self) -> dt.date:
        return dt.date.fromisoformat(str(self.card["scoring_as_of"]))


def latest_trained_champion(con: duckdb.DuckDBPyConnection
                            ) -> tuple[TrainedChampion | None, str]:
    """The champion of the latest full churn training, or ``None`` and why there is none."""
    known = con.execute("select count(*) from information_schema.tables where "
                        "table_schema = 'ml' and table_name = 'model_runs'").fetchone()[0]
    if not known:
        return None, "no earlier churn training (ml.model_runs does not exist)"
    found = con.execute("""
        select model_version, artifact_path, trained_at, candidate, parameters, metrics
        from ml.model_runs
        where model_name = 'churn' and role = 'champion' and artifact_path is not null
        order by trained_at desc, scoring_as_of desc limit 1""").fetchone()
    if found is None:
        return None, "no earlier churn training in ml.model_runs"
    record = dict(zip(("model_version", "artifact_path", "trained_at", "candidate",
                       "parameters", "metrics"), found, strict=True))
    version, path = record["model_version"], Path(record["artifact_path"])
    try:
        card = json.loads((path / "card.json").read_text())
        model = model_store.load_artifact(path)
    except Exception as exc:  # gone, or pickled by code that has changed since
        return None, f"the artifact of churn model {version} at {path} cannot be loaded ({exc})"
    missing = CARD_KEYS - set(card)
    if missing:
        return None, f"the card of churn model {version} lacks {sorted(missing)}"
    record["parameters"] = json.loads(record["parameters"] or "{}")
    record["metrics"] = json.loads(record["metrics"] or "{}")
    return TrainedChampion(model, card, record, path), ""


def refit_reason(champion: TrainedChampion | None, why_none: str, scoring: dt.date,
                 windows: ChurnWindows, every_days: int) -> str | None:
    """Why churn must be trained in full now, or ``None`` when ``champion`` may score."""
    if every_days == 0:
        return f"{REFIT_DAYS_ENV}=0: refit on every run"
    if champion is None:
        return why_none
    parameters = champion.card.get("parameters", {})
    trained_windows = (parameters.get("horizon_days"), parameters.get("active_lookback_days"))
    if trained_windows != (windows.horizon_days, windows.active_lookback_days):
        return (f"churn windows changed: model {champion.version} was trained with horizon "
                f"and lookback {trained_windows}, now ({windows.horizon_days}, "
                f"{windows.active_lookback_days})")
    age = (scoring - champion.trained_for).days
    if age < 0:
        return (f"scoring date {scoring} is before {champion.trained_for}, the date model "
                f"{champion.version} was trained for")
    if age >= every_days:
        return (f"model {champion.version} was trained for {champion.trained_for}, {age} days "
                f"of data ago ({REFIT_DAYS_ENV}={every_days})")
    return None


@with_bounded_threads
def score_churn(con: duckdb.DuckDBPyConnection, *, artifacts_root: Path, settings: MlSettings,
                run_id: str | None = None) -> ChurnResult:
    """Train and score (:func:`ml.churn.training.train_and_score`) when a refit is due, else
    score with the latest trained champion. ``result.refit`` says which, and why."""
    windows = settings.churn_windows
    every_days = settings.refit_days
    scoring = scoring_date(con, settings.as_of)
    champion, why_none = latest_trained_champion(con)
    reason = refit_reason(champion, why_none, scoring, windows, every_days)
    if reason is None:
        scoring_frame = with_bgnbd_inputs(con, build_features(con, scoring, windows), scoring,
                                          bgnbd_inputs(con, scoring))
        missing = set(champion.model.used_columns) - set(scoring_frame.columns)
        if not missing:
            return _rescore(champion, scoring_frame, scoring, every_days,
                            run_id or f"churn-{uuid.uuid4().hex[:12]}")
        reason = f"features {sorted(missing)} of model {champion.version} are gone"
    result = train_and_score(con, settings=replace(settings, as_of=scoring),
                             artifacts_root=artifacts_root, run_id=run_id)
    result.refit = f"trained: {reason}"
    return result


def _rescore(champion: TrainedChampion, scoring_frame: pd.DataFrame, scoring: dt.date,
             every_days: int, run_id: str) -> ChurnResult:
    card, model = champion.card, champion.model
    scored_at = model_store.utc_now()
    probability = model.predict(scoring_frame) if len(scoring_frame) else np.array([])
    why_codes = reasons(model, scoring_frame) if len(scoring_frame) else []
    scores = score_table(scoring_frame, probability, why_codes, card["champion"],
                         champion.version, scoring, scored_at)
    due = champion.trained_for + dt.timedelta(days=every_days)
    note = (f"scored with model {champion.version}, trained for {champion.trained_for} in run "
            f"{card.get('run_id')}; next refit when the scoring date reaches {due} "
            f"({REFIT_DAYS_ENV}={every_days})")
    train_as_of = dt.date.fromisoformat(str(card["train_as_of"]))
    valid_as_of = dt.date.fromisoformat(str(card["valid_as_of"]))
    lookback = dt.timedelta(days=card["parameters"]["active_lookback_days"])
    record = champion.record
    run = model_store.ModelRun(
        run_id=run_id, model_name="churn", candidate=record["candidate"], role="champion",
        model_version=champion.version, trained_at=record["trained_at"],
        parameters=record["parameters"],
        metrics={k: v for k, v in record["metrics"].items() if v is not None},
        training_window_start=train_as_of - lookback, training_window_end=valid_as_of,
        validation_as_of=valid_as_of, scoring_as_of=scoring,
        artifact_path=str(champion.artifact_path), notes=note)
    comparison = pd.DataFrame([{"candidate": run.candidate, "role": run.role,
                                **{k: run.metrics.get(k) for k in model_store.METRIC_COLUMNS}}])
    return ChurnResult(scores, [run], comparison, card["champion"],
                       card["parameters"].get("challenger"), champion.version, train_as_of,
                       valid_as_of, scoring, champion.artifact_path, refit=note)
