"""What happens in a window of days: purchases, baskets, returns, tickets, surveys, reviews,
sessions and click-stream events, all derived from the persons' latent parameters.

Everything here works on whole arrays (numpy / pandas), never person by person, so a million
persons stay within minutes. Ids are numbers here; the renderers format them per system.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.catalog import category_product_table
from simulator.timeline import SEASON_MAX, season, store_hours

MINUTE = 1.0 / 1440.0
TICKET_CATEGORIES_WEB = (["delivery", "product_quality", "refund", "billing", "account", "other"],
                         [0.35, 0.25, 0.2, 0.1, 0.05, 0.05])
TICKET_CATEGORIES_STORE = (["product_quality", "refund", "billing", "other"],
                           [0.45, 0.35, 0.1, 0.1])


def simulate_purchases(persons: pd.DataFrame, t0: float, t1: float, cfg,
                       rng: np.random.Generator) -> pd.DataFrame:
    """BG/NBD purchases of living persons in [t0, t1); updates ``persons`` (dropout, counts).

    Seasonality thins a Poisson process of rate lambda * SEASON_MAX. After each repeat purchase
    the person leaves with probability p, raised by ``bad_service_dropout`` when that purchase
    led to a bad service experience.
    """
    b = cfg.behaviour
    live = persons.index[(persons["alive"].to_numpy()) & (persons["acquired_day"].to_numpy() < t1)]
    acq = persons.loc[live, "acquired_day"].to_numpy()
    lam = persons.loc[live, "lam"].to_numpy()
    p = persons.loc[live, "p_drop"].to_numpy()
    web = persons.loc[live, "web_share"].to_numpy()
    cols: dict[str, list] = {"pos": [], "day": [], "repeat": []}
    # acquisition purchase of persons arriving in this window (the BG/NBD "time zero")
    first = (acq >= t0) & (acq < t1)
    cols["pos"].append(np.flatnonzero(first))
    cols["day"].append(acq[first])
    cols["repeat"].append(np.zeros(first.sum(), dtype=bool))
    pos = np.arange(len(live))
    cur = np.maximum(acq, t0)
    dropout = np.full(len(live), np.nan)
    flags: list[tuple] = []
    while len(pos):
        cand = cur + rng.exponential(1.0, len(pos)) / (lam[pos] * SEASON_MAX)
        keep = cand < t1
        pos, cand = pos[keep], cand[keep]
        if not len(pos):
            break
        accept = rng.random(len(pos)) < season(cfg.start_date, cand) / SEASON_MAX
        bp, bd = pos[accept], cand[accept]
        cols["pos"].append(bp)
        cols["day"].append(bd)
        cols["repeat"].append(np.ones(len(bp), dtype=bool))
        # channel and service outcome are drawn now: a bad experience raises the dropout chance
        is_web = rng.random(len(bp)) < web[bp]
        ticket = rng.random(len(bp)) < np.where(is_web, b.ticket_rate_web, b.ticket_rate_store)
        bad = ticket & (rng.random(len(bp)) < b.bad_service_share)
        flags.append((is_web, ticket, bad))
        p_eff = 1.0 - (1.0 - p[bp]) * (1.0 - b.bad_service_dropout * bad)
        dies = rng.random(len(bp)) < p_eff
        dropout[bp[dies]] = bd[dies]
        alive_mask = np.ones(len(pos), dtype=bool)
        alive_mask[np.flatnonzero(accept)[dies]] = False
        pos, cur = pos[alive_mask], cand[alive_mask]
    n_first = len(cols["day"][0])
    is_web0 = rng.random(n_first) < web[cols["pos"][0]]
    ticket0 = rng.random(n_first) < np.where(is_web0, b.ticket_rate_web, b.ticket_rate_store)
    bad0 = ticket0 & (rng.random(n_first) < b.bad_service_share)
    flags.insert(0, (is_web0, ticket0, bad0))
    ppos = np.concatenate(cols["pos"])
    purchases = pd.DataFrame({
        "person_idx": live.to_numpy()[ppos],
        "day": np.concatenate(cols["day"]),
        "is_repeat": np.concatenate(cols["repeat"]),
        "is_web": np.concatenate([f[0] for f in flags]),
        "has_ticket": np.concatenate([f[1] for f in flags]),
        "bad_service": np.concatenate([f[2] for f in flags]),
    })
    purchases = purchases.sort_values(["day", "person_idx"], kind="stable").reset_index(drop=True)
    # store sales happen in opening hours
    store = ~purchases["is_web"].to_numpy()
    d = purchases["day"].to_numpy().copy()
    d[store] = np.floor(d[store]) + store_hours(d[store] - np.floor(d[store]))
    purchases["day"] = d
    # person bookkeeping
    died = ~np.isnan(dropout)
    persons.loc[live[died], "alive"] = False
    persons.loc[live[died], "dropout_day"] = dropout[died]
    counts = purchases.groupby("person_idx").agg(n=("day", "size"), t=("has_ticket", "sum"),
                                                 bad=("bad_service", "sum"))
    persons.loc[counts.index, "n_purchases"] += counts["n"].to_numpy()
    persons.loc[counts.index, "n_tickets"] += counts["t"].to_numpy()
    persons.loc[counts.index, "n_bad_tickets"] += counts["bad"].to_numpy()
    return purchases


def build_baskets(purchases: pd.DataFrame, persons: pd.DataFrame, products: pd.DataFrame,
                  cfg, rng: np.random.Generator) -> pd.DataFrame:
    """Order lines: products from the person's favourite categories plus partner products, and
    quantities sized so the basket value tracks the person's Gamma-Gamma spend."""
    n = len(purchases)
    pi = purchases["person_idx"].to_numpy()
    spend = rng.gamma(persons.loc[pi, "gg_p"].to_numpy(), 1.0 / persons.loc[pi, "nu"].to_numpy())
    spend = spend * cfg.price_scale
    purchases["spend"] = spend
    n_lines = np.minimum(1 + rng.poisson(0.9, n), 6)
    order_pos = np.repeat(np.arange(n), n_lines)
    line_no = np.arange(len(order_pos)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    cat_idx, cat_cum = category_product_table(products)
    u = rng.random(len(order_pos))
    fav1 = persons.loc[pi, "fav1"].to_numpy()[order_pos]
    fav2 = persons.loc[pi, "fav2"].to_numpy()[order_pos]
    cat = np.where(u < 0.5, fav1, np.where(u < 0.7, fav2, rng.integers(0, 12, len(order_pos))))
    pick = (cat_cum[cat] < rng.random(len(order_pos))[:, None]).sum(axis=1)
    prod = cat_idx[cat, np.minimum(pick, cat_idx.shape[1] - 1)]
    partner = products["partner_idx"].to_numpy()
    first_prod = prod[np.cumsum(n_lines) - n_lines][order_pos]
    add_partner = (line_no > 0) & (rng.random(len(order_pos)) < 0.45)
    prod = np.where(add_partner, partner[first_prod], prod)
    lines = pd.DataFrame({"order_pos": order_pos, "product_idx": prod})
    lines = lines.drop_duplicates(["order_pos", "product_idx"]).reset_index(drop=True)
    lines["line_no"] = lines.groupby("order_pos").cumcount() + 1
    k = lines.groupby("order_pos")["line_no"].transform("max").to_numpy()
    price = products["unit_price"].to_numpy()[lines["product_idx"].to_numpy()]
    target = spend[lines["order_pos"].to_numpy()] / k
    qty = np.clip(np.round(target / price), 1, 6).astype(int)
    lines["quantity"] = qty
    lines["unit_price"] = price
    promo = rng.random(len(lines)) < 0.15
    disc = np.round(qty * price * rng.uniform(0.1, 0.3, len(lines)) * promo, 2)
    lines["discount_amount"] = disc
    lines["net_amount"] = np.round(qty * price - disc, 2)
    return lines


def choose(rng: np.random.Generator, options: list, p: list, n: int) -> np.ndarray:
    return rng.choice(np.asarray(options, dtype=object), n, p=p)


def build_tickets(orders: pd.DataFrame, cfg, rng: np.random.Generator) -> pd.DataFrame:
    """Tickets caused by orders, with response and resolution times; bad ones are slow,
    unresolved or botched (and made that person likelier to leave, see simulate_purchases)."""
    t = orders.loc[orders["has_ticket"].to_numpy()].copy()
    n = len(t)
    web = t["is_web"].to_numpy()
    cat = np.where(web, choose(rng, *TICKET_CATEGORIES_WEB, n),
                   choose(rng, *TICKET_CATEGORIES_STORE, n))
    created = t["day"].to_numpy() + np.where(cat == "delivery", rng.uniform(2, 9, n),
                                             rng.uniform(0.3, 10, n))
    created = np.floor(created) + (8 + 12 * rng.random(n)) / 24
    bad = t["bad_service"].to_numpy()
    kind = np.where(bad, rng.integers(0, 3, n), -1)  # 0 slow, 1 unresolved, 2 botched
    first_resp_min = np.where(kind == 0, rng.lognormal(np.log(2880), 0.5, n),
                              np.where(kind == 1, rng.lognormal(np.log(600), 0.6, n),
                                       rng.lognormal(np.log(120), 0.8, n)))
    resolve_h = np.where(kind == 0, rng.lognormal(np.log(120), 0.5, n),
                         rng.lognormal(np.log(18), 0.9, n))
    first_resp = created + first_resp_min * MINUTE
    resolved = np.where(kind == 1, np.nan,
                        np.maximum(created + resolve_h / 24, first_resp + MINUTE))
    return pd.DataFrame({
        "order_pos": t.index.to_numpy(), "person_idx": t["person_idx"].to_numpy(),
        "is_web": web, "category": cat, "created": created, "first_response": first_resp,
        "resolved": resolved, "bad": bad, "bad_kind": kind,
        "channel": choose(rng, ["email", "phone", "chat", "web_form"], [.35, .25, .25, .15], n),
        "priority": choose(rng, ["low", "normal", "high", "urgent"], [.2, .55, .2, .05], n),
    })


def build_returns(lines: pd.DataFrame, orders: pd.DataFrame, tickets: pd.DataFrame, cfg,
                  rng: np.random.Generator) -> pd.DataFrame:
    """Returned lines: more likely when the order led to a quality or refund ticket."""
    b = cfg.behaviour
    op = lines["order_pos"].to_numpy()
    quality = np.zeros(len(orders), dtype=bool)
    tq = tickets["category"].isin(["product_quality", "refund"]).to_numpy()
    quality[tickets["order_pos"].to_numpy()[tq]] = True
    ok = ~orders["cancelled"].to_numpy()[op]
    rate = np.where(quality[op], np.minimum(3 * b.return_rate + 0.3, 1.0), b.return_rate)
    ret = ok & (rng.random(len(lines)) < rate)
    r = lines.loc[ret].copy()
    n = len(r)
    r["return_qty"] = np.maximum(1, np.floor(rng.random(n) * r["quantity"].to_numpy()) + 1)
    r["return_qty"] = np.minimum(r["return_qty"], r["quantity"]).astype(int)
    share = r["return_qty"].to_numpy() / r["quantity"].to_numpy()
    r["refund"] = np.round(r["net_amount"].to_numpy() * share, 2)
    r["returned_day"] = orders["day"].to_numpy()[r["order_pos"].to_numpy()] + rng.uniform(2, 30, n)
    reasons = choose(rng, ["DAMAGED", "WRONG_ITEM", "NOT_AS_DESCRIBED", "CHANGED_MIND", "LATE"],
                     [.15, .1, .15, .5, .1], n)
    q = quality[r["order_pos"].to_numpy()]
    reasons[q] = choose(rng, ["DAMAGED", "NOT_AS_DESCRIBED"], [.5, .5], int(q.sum()))
    r["reason_code"] = reasons
    return r


def build_reviews(lines: pd.DataFrame, orders: pd.DataFrame, products: pd.DataFrame, cfg,
                  rng: np.random.Generator) -> pd.DataFrame:
    op = lines["order_pos"].to_numpy()
    eligible = orders["is_web"].to_numpy()[op] & ~orders["cancelled"].to_numpy()[op]
    pick = eligible & (rng.random(len(lines)) < cfg.behaviour.review_rate)
    r = lines.loc[pick, ["order_pos", "product_idx"]].copy()
    n = len(r)
    quality = products["quality"].to_numpy()[r["product_idx"].to_numpy()]
    bad = orders["bad_service"].to_numpy()[r["order_pos"].to_numpy()]
    r["rating"] = np.clip(np.round(rng.normal(quality - 1.2 * bad, 0.9)), 1, 5).astype(int)
    r["created"] = orders["day"].to_numpy()[r["order_pos"].to_numpy()] + rng.uniform(5, 25, n)
    return r


def build_surveys(tickets: pd.DataFrame, cfg, rng: np.random.Generator) -> pd.DataFrame:
    """CSAT answers after resolved tickets; botched or slow tickets score low."""
    done = ~np.isnan(tickets["resolved"].to_numpy())
    answer = done & (rng.random(len(tickets)) < cfg.behaviour.csat_response_rate)
    s = tickets.loc[answer, ["ticket_pos", "person_idx", "contact_num", "resolved", "bad"]].copy()
    n = len(s)
    good = rng.choice([5, 4, 3], n, p=[.6, .3, .1])
    poor = rng.choice([1, 2, 3], n, p=[.45, .35, .2])
    s["score"] = np.where(s["bad"].to_numpy(), poor, good)
    s["responded"] = s["resolved"].to_numpy() + rng.uniform(0.05, 3, n)
    s["survey_type"] = "CSAT"
    return s
