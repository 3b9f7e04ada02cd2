"""Churn refit policy: score every run, refit every CRMW_ML_REFIT_DAYS days of data, and refit
at once when the latest champion cannot be reused (ml/churn/refit.py)."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pandas as pd
import pytest

from ml.churn import refit as churn_refit
from ml.churn import training as churn
from ml.shared.settings import ChurnWindows, MlSettings


@pytest.fixture
def trained(synthetic_copy, tmp_path):
    """A writable warehouse whose ml.model_runs holds one full churn training."""
    db, truth = synthetic_copy
    con = duckdb.connect(str(db))
    artifacts = tmp_path / "artifacts"
    first = churn_refit.score_churn(con, artifacts_root=artifacts, run_id="churn-first",
                                    settings=MlSettings(refit_days=7))
    churn.write_outputs(con, first)
    yield con, first, truth, artifacts
    con.close()


def _again(con, truth, artifacts, run_id, *, every_days: int, scoring_as_of=None,
           windows: ChurnWindows | None = None):
    settings = MlSettings(as_of=scoring_as_of, refit_days=every_days,
                          churn_windows=windows or ChurnWindows())
    result = churn_refit.score_churn(con, artifacts_root=artifacts, run_id=run_id,
                                     settings=settings)
    churn.write_outputs(con, result)
    return result


def test_first_run_trains(trained):
    _, first, _, _ = trained
    assert first.refit.startswith("trained: no earlier churn training")
    assert {r.role for r in first.runs} >= {"champion", "challenger", "baseline"}


def test_champion_rescoring_at_its_own_date_reproduces_its_scores(trained):
    con, first, truth, artifacts = trained
    again = _again(con, truth, artifacts, "churn-same-day", every_days=7)
    assert again.refit.startswith("scored with model " + first.model_version)
    assert again.model_version == first.model_version
    assert again.champion == first.champion
    columns = ["customer_key", "churn_probability", "risk_band", "reason_1", "reason_2",
               "reason_3", "model_name", "model_version", "as_of_date"]
    pd.testing.assert_frame_equal(again.scores[columns].reset_index(drop=True),
                                  first.scores[columns].reset_index(drop=True))


def test_rescoring_run_is_one_champion_row_with_a_note(trained):
    con, first, truth, artifacts = trained
    later = first.scoring_as_of + dt.timedelta(days=3)
    again = _again(con, truth, artifacts, "churn-day-3", scoring_as_of=later, every_days=7)
    rows = con.execute("""select role, candidate, model_version, scoring_as_of, n_train, notes,
                                 pr_auc, trained_at
                          from ml.model_runs where run_id = 'churn-day-3'""").fetchall()
    assert len(rows) == 1
    role, candidate, version, scoring, n_train, notes, pr_auc, trained_at = rows[0]
    assert (role, candidate, version) == ("champion", first.champion, first.model_version)
    assert scoring == later and n_train is None
    due = first.scoring_as_of + dt.timedelta(days=7)
    assert f"next refit when the scoring date reaches {due}" in notes
    champion = next(r for r in first.runs if r.role == "champion")
    assert pr_auc == pytest.approx(champion.metrics["pr_auc"])
    assert trained_at == champion.trained_at
    assert (again.scores.as_of_date == later).all()
    assert len(again.scores) == con.execute(
        "select count(*) from ml.churn_scores").fetchone()[0]
    # the same run again replaces its row
    _again(con, truth, artifacts, "churn-day-3", scoring_as_of=later, every_days=7)
    assert con.execute("select count(*) from ml.model_runs where run_id = 'churn-day-3'"
                       ).fetchone()[0] == 1


def test_refit_when_due(trained):
    con, first, truth, artifacts = trained
    due = first.scoring_as_of + dt.timedelta(days=7)
    again = _again(con, truth, artifacts, "churn-day-7", scoring_as_of=due, every_days=7)
    assert again.refit.startswith("trained: model " + first.model_version)
    assert "7 days of data ago" in again.refit
    assert {r.role for r in again.runs} >= {"champion", "challenger", "baseline"}
    # the new training is now the one reused
    after = _again(con, truth, artifacts, "churn-day-8",
                   scoring_as_of=due + dt.timedelta(days=1), every_days=7)
    assert after.refit.startswith(f"scored with model {again.model_version}, trained for {due}")


@pytest.mark.parametrize("change", ["refit_days_0", "windows", "earlier_date", "artifact_gone"])
def test_refit_at_once_when_the_champion_cannot_be_reused(trained, change):
    con, first, truth, artifacts = trained
    kwargs: dict = {"every_days": 7}
    expected = {
        "refit_days_0": "CRMW_ML_REFIT_DAYS=0",
        "windows": "churn windows changed",
        "earlier_date": "is before",
        "artifact_gone": "cannot be loaded",
    }[change]
    if change == "refit_days_0":
        kwargs["every_days"] = 0
    elif change == "windows":
        kwargs["windows"] = ChurnWindows(horizon_days=60, active_lookback_days=365)
    elif change == "earlier_date":
        kwargs["scoring_as_of"] = first.scoring_as_of - dt.timedelta(days=1)
    else:
        shutil.rmtree(first.artifact_path)
    again = _again(con, truth, artifacts, f"churn-{change}", **kwargs)
    assert again.refit.startswith("trained: ")
    assert expected in again.refit
    assert {r.role for r in again.runs} >= {"champion", "challenger", "baseline"}
