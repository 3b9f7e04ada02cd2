"""Calendar helpers: day numbers (float days since the start date, local time) and seasonality."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

# Month and weekday multipliers of the purchase rate (normalized to a yearly mean of 1).
MONTH_FACTOR = np.array([0.85, 0.85, 0.95, 0.95, 1.0, 0.95, 0.95, 1.0, 0.95, 1.0, 1.25, 1.5])
MONTH_FACTOR = MONTH_FACTOR / MONTH_FACTOR.mean()
WEEKDAY_FACTOR = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.25, 1.05])  # Monday .. Sunday
SEASON_MAX = float(MONTH_FACTOR.max() * WEEKDAY_FACTOR.max())


def day_dates(start: date, days: np.ndarray) -> np.ndarray:
    """datetime64[D] of each (float) day number."""
    return np.datetime64(start, "D") + np.floor(days).astype("int64").astype("timedelta64[D]")


def season(start: date, days: np.ndarray) -> np.ndarray:
    d = day_dates(start, days)
    month = d.astype("datetime64[M]").astype(int) % 12
    weekday = (d.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    return MONTH_FACTOR[month] * WEEKDAY_FACTOR[weekday]


def to_timestamp(start: date, days) -> pd.Series:
    """Naive local timestamps (whole seconds) of day numbers."""
    d = np.asarray(days, dtype="float64")
    missing = np.isnan(d)
    secs = np.round(np.where(missing, 0.0, d) * 86400.0).astype("int64")
    out = np.datetime64(start, "s") + secs.astype("timedelta64[s]")
    out[missing] = np.datetime64("NaT")
    return pd.Series(out)


def store_hours(u: np.ndarray) -> np.ndarray:
    """Fraction of the day of a store sale (opening hours 9:00-21:00) from a value in [0, 1]."""
    return (9.0 + 12.0 * u) / 24.0


def quarter_starts(start: date, t0: float, t1: float) -> list[float]:
    """Day numbers of the first day of each calendar quarter within [t0, t1)."""
    out = []
    first = np.datetime64(start, "D") + np.timedelta64(int(np.floor(t0)), "D")
    last = np.datetime64(start, "D") + np.timedelta64(int(np.ceil(t1)), "D")
    m = first.astype("datetime64[M]")
    while m <= last.astype("datetime64[M]"):
        if int(m.astype(int)) % 3 == 0:
            d = (m.astype("datetime64[D]") - np.datetime64(start, "D")).astype(int)
            if t0 <= d < t1:
                out.append(float(d))
        m = m + np.timedelta64(1, "M")
    return out
