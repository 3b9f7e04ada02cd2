"""customer_rfm agrees with an independent pandas computation on the demo data."""

from __future__ import annotations

import numpy as np
import pandas as pd

SEGMENTS = {  # (r_score, fm_score) -> segment, written out independently of the seed file
    **{(5, f): s for f, s in zip(range(1, 6), ["New", "Potential Loyalist", "Potential Loyalist",
                                              "Champions", "Champions"], strict=True)},
    **{(4, f): s for f, s in zip(range(1, 6), ["Promising", "Potential Loyalist",
                                              "Potential Loyalist", "Loyal", "Loyal"],
                                 strict=True)},
    **{(3, f): s for f, s in zip(range(1, 6), ["About to Sleep", "About to Sleep",
                                              "Need Attention", "Loyal", "Loyal"], strict=True)},
    **{(2, f): s for f, s in zip(range(1, 6), ["Hibernating", "Hibernating", "At Risk",
                                              "At Risk", "Can't Lose Them"], strict=True)},
    **{(1, f): s for f, s in zip(range(1, 6), ["Lost", "Hibernating", "At Risk", "At Risk",
                                              "Can't Lose Them"], strict=True)},
}


def quintile(values: pd.Series, ascending: bool) -> pd.Series:
    rank = values.rank(method="min", ascending=ascending)
    return np.minimum(5, 1 + np.floor(5 * (rank - 1) / len(values))).astype(int)


def pandas_rfm(orders: pd.DataFrame) -> pd.DataFrame:
    done = orders[orders["customer_key"].notna() & ~orders["is_cancelled"]]
    as_of = pd.Timestamp(orders["order_date"].max())
    g = done.groupby("customer_key")
    rfm = pd.DataFrame({
        "recency_days": (as_of - pd.to_datetime(g["order_date"].max())).dt.days,
        "frequency": g.size(),
        "monetary": g["net_revenue"].sum().astype(float),
    })
    rfm["r_score"] = quintile(rfm["recency_days"], ascending=False)
    rfm["f_score"] = quintile(rfm["frequency"], ascending=True)
    rfm["m_score"] = quintile(rfm["monetary"].round(2), ascending=True)
    fm = (rfm["f_score"] + rfm["m_score"] + 1) // 2
    rfm["segment"] = [SEGMENTS[(r, f)] for r, f in zip(rfm["r_score"], fm, strict=True)]
    return rfm.sort_index()


def test_rfm_matches_pandas(built_warehouse):
    with built_warehouse.connect() as con:
        orders = con.execute("""select customer_key, order_date, is_cancelled,
                                       net_revenue::double as net_revenue
                                from marts.fct_orders""").df()
        dbt_rfm = con.execute("""select customer_key, recency_days, frequency,
                                        monetary::double as monetary, r_score, f_score,
                                        m_score, segment
                                 from marts.customer_rfm""").df().set_index("customer_key")
    expected = pandas_rfm(orders)
    dbt_rfm = dbt_rfm.sort_index()
    assert len(expected) > 100
    assert list(dbt_rfm.index) == list(expected.index)
    for col in ["recency_days", "frequency", "r_score", "f_score", "m_score", "segment"]:
        mismatched = (dbt_rfm[col] != expected[col]).sum()
        assert mismatched == 0, f"{col}: {mismatched} customers differ"
    np.testing.assert_allclose(dbt_rfm["monetary"], expected["monetary"], atol=0.005)
    assert dbt_rfm["segment"].nunique() >= 6
