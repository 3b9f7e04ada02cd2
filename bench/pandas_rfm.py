"""customer_rfm in pandas, for the benchmark's comparison with the dbt model.

The same rules as ``dbt_project/macros/rfm.sql``: completed orders of known customers up to the
latest order date; recency in days, frequency, monetary; 1-5 scores as quintiles of rank()
(ties share the lowest rank; recency descending); fm_score rounds half up; segment from the
seed ``rfm_segments``. ``compare`` checks the pandas result against the mart row by row, so a
speed figure never comes from a different answer.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd


def rfm_frame(orders: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    done = orders[orders["customer_key"].notna() & ~orders["is_cancelled"].astype(bool)]
    as_of = pd.Timestamp(orders["order_date"].max())
    base = done.groupby("customer_key").agg(
        last_order=("order_date", "max"), frequency=("order_date", "size"),
        monetary=("net_revenue", "sum"))
    base["recency_days"] = (as_of - pd.to_datetime(base["last_order"])).dt.days
    n = len(base)

    def score(rank: pd.Series) -> pd.Series:
        return np.minimum(5, 1 + np.floor(5 * (rank - 1) / n)).astype(int)

    base["r_score"] = score(base["recency_days"].rank(method="min", ascending=False))
    base["f_score"] = score(base["frequency"].rank(method="min"))
    base["m_score"] = score(base["monetary"].astype(float).rank(method="min"))
    base["fm_score"] = (base["f_score"] + base["m_score"] + 1) // 2
    base["rfm_score"] = (base["r_score"].astype(str) + base["f_score"].astype(str)
                         + base["m_score"].astype(str))
    base["as_of_date"] = as_of.date()
    out = base.reset_index().merge(segments[["r_score", "fm_score", "segment"]],
                                   on=["r_score", "fm_score"], how="inner")
    return out[["customer_key", "as_of_date", "recency_days", "frequency", "monetary",
                "r_score", "f_score", "m_score", "rfm_score", "fm_score", "segment"]]


def time_pandas_rfm(con) -> dict:
    """Read fct_orders, compute RFM in pandas, compare with marts.customer_rfm."""
    t0 = time.perf_counter()
    orders = con.execute("""select customer_key, order_date, is_cancelled, net_revenue
                            from marts.fct_orders""").df()
    segments = con.execute("select * from staging.rfm_segments").df()
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = rfm_frame(orders, segments)
    compute = time.perf_counter() - t0
    mart = con.execute("select customer_key, r_score, f_score, m_score, segment "
                       "from marts.customer_rfm").df()
    joined = frame.merge(mart, on="customer_key", suffixes=("", "_mart"), how="outer",
                         indicator=True)
    both = joined[joined["_merge"] == "both"]
    agree = (both["r_score"].eq(both["r_score_mart"]) & both["f_score"].eq(both["f_score_mart"])
             & both["m_score"].eq(both["m_score_mart"]) & both["segment"].eq(both["segment_mart"]))
    return {"read_seconds": read, "compute_seconds": compute, "seconds": read + compute,
            "customers": len(frame), "mart_customers": len(mart),
            "rows_agreeing_with_mart": int(agree.sum()), "rows_only_in_one": int(
                (joined["_merge"] != "both").sum())}
