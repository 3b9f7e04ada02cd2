"""The ``CRMW_ML_*`` environment is read at the orchestration edge into ``MlSettings``: the
documented defaults, and errors that name the variable (orchestration/defs/ml/settings.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from ml.shared.settings import ChurnWindows, ClvSettings, MlSettings
from orchestration.defs.ml.settings import ml_settings_from_env


def test_defaults_when_nothing_is_set():
    assert ml_settings_from_env() == MlSettings() == MlSettings(
        as_of=None, churn_windows=ChurnWindows(90, 365), refit_days=7, threads=1,
        clv=ClvSettings(months=12, monthly_discount_rate=0.01, acquisition_cost=0.0))


def test_window_settings_are_validated(monkeypatch):
    monkeypatch.setenv("CRMW_ML_CHURN_HORIZON_DAYS", "sixty")
    with pytest.raises(ValueError, match="CRMW_ML_CHURN_HORIZON_DAYS"):
        ml_settings_from_env()
    monkeypatch.setenv("CRMW_ML_CHURN_HORIZON_DAYS", "60")
    assert ml_settings_from_env().churn_windows.horizon_days == 60


def test_refit_days_setting(monkeypatch):
    monkeypatch.setenv("CRMW_ML_REFIT_DAYS", "3")
    assert ml_settings_from_env().refit_days == 3
    monkeypatch.setenv("CRMW_ML_REFIT_DAYS", "-1")
    with pytest.raises(ValueError, match="CRMW_ML_REFIT_DAYS"):
        ml_settings_from_env()
    monkeypatch.delenv("CRMW_ML_REFIT_DAYS")
    assert ml_settings_from_env().refit_days == 7


def test_as_of_and_clv_settings(monkeypatch):
    monkeypatch.setenv("CRMW_ML_AS_OF", "2025-06-01")
    monkeypatch.setenv("CRMW_ML_CLV_MONTHS", "24")
    monkeypatch.setenv("CRMW_ML_ACQUISITION_COST", "12.5")
    settings = ml_settings_from_env()
    assert settings.as_of == dt.date(2025, 6, 1)
    assert (settings.clv.months, settings.clv.acquisition_cost) == (24, 12.5)
    monkeypatch.setenv("CRMW_ML_AS_OF", "June")
    with pytest.raises(ValueError, match="not an ISO date"):
        ml_settings_from_env()
    monkeypatch.delenv("CRMW_ML_AS_OF")
    monkeypatch.setenv("CRMW_ML_MONTHLY_DISCOUNT_RATE", "one percent")
    with pytest.raises(ValueError, match="CRMW_ML_MONTHLY_DISCOUNT_RATE"):
        ml_settings_from_env()
