"""A small synthetic warehouse with the mart columns of docs/conventions.md and a known truth.

Used by the ml tests that must run without the whole pipeline (fast unit-level checks) and as
the development fixture. People buy as in the BG/NBD story (a Poisson purchase rate while
alive, a coin flip for dropping out after each purchase), with extra churn after unresolved
complaints so that service features carry signal beyond recency. The truth is written in the
simulator's layout (``_truth/persons`` and ``_truth/person_records``) so the oracle can use it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

START = dt.date(2023, 1, 1)
END = dt.date(2025, 12, 31)  # last day with data


def simulate(n_people: int = 3000, seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    horizon = (END - START).days + 1
    birth = rng.uniform(0, horizon * 0.75, n_people)
    lam = rng.gamma(1.3, 1 / 55.0, n_people)  # purchases per day while alive
    p_drop = rng.beta(1.0, 5.0, n_people)
    spend_mean = rng.gamma(4.0, 15.0, n_people)
    web_pref = rng.beta(1.5, 1.5, n_people)

    orders, tickets, surveys, sessions = [], [], [], []
    death = np.full(n_people, np.nan)
    t = birth.copy()
    alive = np.ones(n_people, bool)
    unresolved = np.zeros(n_people, bool)
    order_id = 0
    while True:
        idx = np.flatnonzero(alive & (t < horizon))
        if idx.size == 0:
            break
        for i in idx:
            order_id += 1
            net = float(rng.gamma(5.0, spend_mean[i] / 5.0))
            orders.append((order_id, i, t[i], net, rng.random() < web_pref[i],
                           rng.random() < 0.03))
            sessions.append((i, t[i] - rng.uniform(0, 0.02), True))
            for _ in range(rng.poisson(1.5)):
                sessions.append((i, t[i] - rng.uniform(0, 30), False))
            if rng.random() < 0.06:  # a complaint about this order
                is_resolved = rng.random() < 0.6
                created = t[i] + rng.uniform(1, 10)
                tickets.append((i, created, created + rng.uniform(2, 200) / 24 if is_resolved
                                else np.nan, order_id))
                unresolved[i] = not is_resolved
                if is_resolved:
                    surveys.append((i, "CSAT", int(rng.integers(3, 6)), created + 1))
        drop_now = rng.random(idx.size) < np.where(unresolved[idx],
                                                   np.minimum(1, p_drop[idx] + 0.35), p_drop[idx])
        death[idx[drop_now]] = t[idx[drop_now]]
        alive[idx[drop_now]] = False
        t[idx] += rng.exponential(1 / lam[idx])
    for i in np.flatnonzero(rng.random(n_people) < 0.25):  # relationship NPS
        end_i = death[i] if not np.isnan(death[i]) else horizon - 1
        when = rng.uniform(birth[i], max(birth[i] + 1, end_i))
        if when < horizon:
            score = int(rng.integers(0, 7)) if unresolved[i] else int(rng.integers(5, 11))
            surveys.append((i, "NPS", score, when))

    def ts(days: np.ndarray) -> pd.Series:
        return pd.to_datetime(START) + pd.to_timedelta(np.asarray(days, float), unit="D")

    keys = np.array([f"ck_{i:06d}" for i in range(n_people)])
    o = pd.DataFrame(orders, columns=["order_key", "p", "t", "net", "web", "cancelled"])
    fct_orders = pd.DataFrame({
        "order_key": o.order_key.astype(str), "customer_key": keys[o.p],
        "order_source": np.where(o.web, "ecommerce", "erp"),
        "channel": np.where(o.web, "web", "store"), "ordered_at": ts(o.t),
        "status": np.where(o.cancelled, "cancelled", "completed"),
        "is_cancelled": o.cancelled, "item_count": 1,
        "gross_revenue": o.net * 1.1, "discount_amount": o.net * 0.1,
        "returned_amount": np.where(rng.random(len(o)) < 0.05, o.net * 0.5, 0.0),
        "net_revenue": o.net, "cost_amount": o.net * 0.6, "margin_amount": o.net * 0.4,
    })
    fct_orders["order_date"] = fct_orders.ordered_at.dt.date
    s = pd.DataFrame(sessions, columns=["p", "t", "has_purchase"])
    s = s[s.t >= 0]
    fct_sessions = pd.DataFrame({
        "session_id": [f"s{i}" for i in range(len(s))], "customer_key": keys[s.p],
        "started_at": ts(s.t), "device": "mobile", "channel": "organic",
        "event_count": 3, "has_purchase": s.has_purchase.to_numpy(),
    })
    tk = pd.DataFrame(tickets, columns=["p", "t", "resolved", "order_ref"])
    fct_tickets = pd.DataFrame({
        "ticket_id": [f"T-{i}" for i in range(len(tk))], "customer_key": keys[tk.p],
        "channel": "email", "category": "delivery", "priority": "normal",
        "status": np.where(tk.resolved.isna(), "open", "resolved"),
        "created_at": ts(tk.t), "first_response_at": ts(tk.t + 0.1),
        "resolved_at": ts(tk.resolved), "first_response_minutes": 144.0,
        "resolution_hours": (tk.resolved - tk.t) * 24, "is_resolved": tk.resolved.notna(),
        "order_ref": tk.order_ref.astype(str),
    })
    sv = pd.DataFrame(surveys, columns=["p", "type", "score", "t"])
    fct_surveys = pd.DataFrame({
        "response_id": [f"R{i}" for i in range(len(sv))], "customer_key": keys[sv.p],
        "ticket_id": None, "survey_type": sv.type, "score": sv.score, "responded_at": ts(sv.t),
    })
    fct_reviews = pd.DataFrame({
        "review_id": ["V1"], "customer_key": [keys[0]], "product_id": ["SKU-1"], "rating": [4],
        "created_at": ts(np.array([10.0])),
    })
    buyers = np.unique(o.p)
    dim_customer = pd.DataFrame({
        "customer_key": keys[buyers], "first_seen_at": ts(birth[buyers]),
        "last_seen_at": ts(np.full(buyers.size, horizon - 1)), "marketing_opt_in": True,
        "home_country": "US",
    })
    identity = pd.DataFrame({
        "source_system": "erp", "source_table": "members",
        "source_id": [str(100000 + i) for i in range(n_people)], "customer_key": keys,
    })
    persons = pd.DataFrame({
        "person_id": [f"P{i:06d}" for i in range(n_people)],
        "purchase_rate_per_day": lam, "dropout_probability": p_drop,
        "dropout_date": [None if np.isnan(d) else (START + dt.timedelta(days=float(d))).isoformat()
                         for d in death],
    })
    records = pd.DataFrame({
        "source_system": "erp", "source_table": "members", "source_id": identity.source_id,
        "person_id": persons.person_id,
    })
    return {
        "marts.fct_orders": fct_orders, "marts.fct_sessions": fct_sessions,
        "marts.fct_tickets": fct_tickets, "marts.fct_survey_responses": fct_surveys,
        "marts.fct_reviews": fct_reviews, "marts.dim_customer": dim_customer,
        "intermediate.int_customer_identity_map": identity,
        "_truth/persons": persons, "_truth/person_records": records,
    }


def write_warehouse(con, tables: dict[str, pd.DataFrame], truth_dir: Path | None = None) -> None:
    """Write the synthetic tables into DuckDB (and the truth as CSV files)."""
    for name, frame in tables.items():
        if name.startswith("_truth/"):
            if truth_dir is not None:
                truth_dir.mkdir(parents=True, exist_ok=True)
                frame.to_csv(truth_dir / f"{name.split('/', 1)[1]}.csv", index=False)
            continue
        schema = name.split(".")[0]
        con.execute(f"create schema if not exists {schema}")
        con.register("_frame", frame)
        con.execute(f"create or replace table {name} as select * from _frame")
        con.unregister("_frame")
    con.execute("create schema if not exists marts")
    con.execute("""
        create or replace table marts.customer_rfm as
        with x as (
            select customer_key, date_diff('day', max(ordered_at)::date, DATE '2026-01-01')
                       as recency_days,
                   count(*) as frequency, sum(net_revenue) as monetary
            from marts.fct_orders where not is_cancelled group by 1)
        select customer_key, DATE '2026-01-01' as as_of_date, recency_days, frequency, monetary,
               ntile(5) over (order by recency_days desc) as r_score,
               ntile(5) over (order by frequency) as f_score,
               ntile(5) over (order by monetary) as m_score,
               0 as rfm_score,
               case when recency_days > 365 then 'Lost' when recency_days > 120 then 'At Risk'
                    else 'Loyal' end as segment
        from x
    """)
