"""What the models may be configured with, as one typed, frozen object.

Why an object and not the environment: model code that reads the process environment deep inside can
only be configured by mutating the process, and a reader cannot see from a function's
signature what changes its result. The ``CRMW_ML_*`` variables are read once, at the edge
(``orchestration/defs/ml/settings.py``), into an :class:`MlSettings` that the Dagster assets
pass to the model functions; tests build one directly. The defaults here are the documented
defaults of those variables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChurnWindows:
    """The windows of the churn definition (see :mod:`ml.shared.features`)."""

    horizon_days: int = 90  # churned = no order in [as_of, as_of + horizon)
    active_lookback_days: int = 365  # eligible = an order in the lookback before as_of


@dataclass(frozen=True)
class ClvSettings:
    """How CLV turns expected purchases into money (see :mod:`ml.clv.scoring`)."""

    months: int = 12  # horizon of the discounted CLV
    monthly_discount_rate: float = 0.01
    acquisition_cost: float = 0.0  # subtracted by the simple-rule baseline
    holdout_days: int = 180  # the purchase model is checked on this many days before scoring


@dataclass(frozen=True)
class MlSettings:
    """Everything the model functions of ``ml/`` may be configured with."""

    # The scoring date; None = the day after the last order in the data.
    as_of: dt.date | None = None
    churn_windows: ChurnWindows = field(default_factory=ChurnWindows)
    # Days of data between full churn trainings; 0 = train on every run (ml.churn.refit).
    refit_days: int = 7
    # Native threads (OpenMP, BLAS) the models may use (ml.shared.threads says why 1).
    threads: int = 1
    clv: ClvSettings = field(default_factory=ClvSettings)
