"""The ``CRMW_ML_*`` environment, read once at the edge into the typed :class:`MlSettings`.

Model code in ``ml/`` never reads the environment: the ml assets call
:func:`ml_settings_from_env` when they run and pass the result to the model functions. The
variables, their defaults and their error messages are the ones the README documents.
"""

from __future__ import annotations

import datetime as dt
import os

from ml.churn.refit import REFIT_DAYS_ENV
from ml.shared.features import as_date
from ml.shared.settings import ChurnWindows, ClvSettings, MlSettings
from warehouse.config import int_setting

AS_OF_ENV = "CRMW_ML_AS_OF"
HORIZON_ENV = "CRMW_ML_CHURN_HORIZON_DAYS"
LOOKBACK_ENV = "CRMW_ML_ACTIVE_LOOKBACK_DAYS"
THREADS_ENV = "CRMW_ML_THREADS"
CLV_MONTHS_ENV = "CRMW_ML_CLV_MONTHS"
DISCOUNT_RATE_ENV = "CRMW_ML_MONTHLY_DISCOUNT_RATE"
ACQUISITION_COST_ENV = "CRMW_ML_ACQUISITION_COST"

DEFAULTS = MlSettings()


def _number_setting(name: str, default: float) -> float:
    """A ``CRMW_*`` number; unset or empty gives ``default``."""
    raw = os.environ.get(name)
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not a number") from exc


def _as_of_setting() -> dt.date | None:
    raw = os.environ.get(AS_OF_ENV)
    return as_date(raw) if raw else None


def churn_windows_from_env() -> ChurnWindows:
    defaults = DEFAULTS.churn_windows
    return ChurnWindows(
        horizon_days=int_setting(HORIZON_ENV, default=defaults.horizon_days, minimum=1),
        active_lookback_days=int_setting(LOOKBACK_ENV, default=defaults.active_lookback_days,
                                         minimum=1),
    )


def clv_settings_from_env() -> ClvSettings:
    defaults = DEFAULTS.clv
    return ClvSettings(
        months=int(_number_setting(CLV_MONTHS_ENV, defaults.months)),
        monthly_discount_rate=_number_setting(DISCOUNT_RATE_ENV,
                                              defaults.monthly_discount_rate),
        acquisition_cost=_number_setting(ACQUISITION_COST_ENV, defaults.acquisition_cost),
        holdout_days=defaults.holdout_days,
    )


def ml_settings_from_env() -> MlSettings:
    """Read every ``CRMW_ML_*`` variable now (unset or empty: the documented default)."""
    return MlSettings(
        as_of=_as_of_setting(),
        churn_windows=churn_windows_from_env(),
        refit_days=int_setting(REFIT_DAYS_ENV, default=DEFAULTS.refit_days, minimum=0),
        threads=int_setting(THREADS_ENV, default=DEFAULTS.threads, minimum=1),
        clv=clv_settings_from_env(),
    )
