"""Web sessions and click-stream events: converting sessions behind every web order, browsing
sessions of account holders that do not convert, and anonymous guest sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.behaviour import MINUTE, choose
from simulator.population import DEVICE_P, DEVICES
from simulator.timeline import SEASON_MAX, season

CHANNELS = (["organic", "paid_search", "email", "social", "direct", "referral"],
            [0.3, 0.2, 0.15, 0.12, 0.18, 0.05])
EVENT_TYPES = np.array(["page_view", "product_view", "add_to_cart", "checkout", "purchase"],
                       dtype=object)


def build_sessions(orders: pd.DataFrame, lines: pd.DataFrame, persons: pd.DataFrame,
                   products: pd.DataFrame, t0: float, t1: float, cfg,
                   rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (sessions, events); sessions carry person_idx (-1 for guests) and order_pos."""
    b = cfg.behaviour
    web_orders = orders.loc[orders["is_web"].to_numpy()]
    # browsing: account holders, while alive (and a month after leaving), at a rate tied to
    # their web purchase rate
    acct = persons.loc[persons["has_account"].to_numpy()]
    start = np.maximum(acct["acquired_day"].to_numpy(), t0)
    end_alive = np.where(np.isnan(acct["dropout_day"].to_numpy()), t1,
                         acct["dropout_day"].to_numpy() + 30)
    end = np.minimum(end_alive, t1)
    span = np.maximum(end - start, 0)
    rate = b.browse_per_purchase * acct["lam"].to_numpy() * acct["web_share"].to_numpy()
    n_browse = rng.poisson(rate * span)
    bp = np.repeat(np.arange(len(acct)), n_browse)
    browse_day = start[bp] + rng.random(len(bp)) * span[bp]
    n_logged = len(web_orders) + len(bp)
    n_guest = int(rng.poisson(n_logged * b.guest_session_share / (1 - b.guest_session_share)))
    guest_day = t0 + rng.random(2 * n_guest) * (t1 - t0)
    thin = rng.random(len(guest_day)) < season(cfg.start_date, guest_day) / SEASON_MAX
    guest_day = guest_day[thin]
    guest_day = guest_day[:n_guest]
    pref = acct["device"].to_numpy()
    sessions = pd.DataFrame({
        "person_idx": np.concatenate([web_orders["person_idx"].to_numpy(),
                                      acct["person_idx"].to_numpy()[bp],
                                      np.full(len(guest_day), -1)]),
        "order_pos": np.concatenate([web_orders.index.to_numpy(), np.full(len(bp), -1),
                                     np.full(len(guest_day), -1)]),
        "anchor": np.concatenate([web_orders["day"].to_numpy(), browse_day, guest_day]),
    })
    n = len(sessions)
    conv = sessions["order_pos"].to_numpy() >= 0
    own = np.concatenate([persons.loc[web_orders["person_idx"].to_numpy(), "device"].to_numpy(),
                          pref[bp], np.full(len(guest_day), None, dtype=object)])
    rnd = rng.choice(DEVICES, n, p=DEVICE_P)
    keep_own = (sessions["person_idx"].to_numpy() >= 0) & (rng.random(n) < 0.8)
    sessions["device"] = np.where(keep_own, own, rnd)
    sessions["channel"] = choose(rng, *CHANNELS, n)
    # event counts per session and type
    n_pv = 1 + rng.poisson(1.5, n)
    order_to_session = pd.Series(np.flatnonzero(conv), index=sessions["order_pos"].to_numpy()[conv])
    lines = lines.loc[lines["order_pos"].isin(order_to_session.index).to_numpy()]
    lc = lines.groupby("order_pos").size()
    n_lines = np.zeros(n, dtype=int)
    n_lines[order_to_session.loc[lc.index].to_numpy()] = lc.to_numpy()
    n_extra_views = rng.poisson(np.where(conv, 1.0, 1.5))
    n_cart = np.where(conv, n_lines, (n_extra_views > 0) & (rng.random(n) < 0.18))
    n_checkout = np.where(conv, 1, (n_cart > 0) & (rng.random(n) < 0.25))
    n_purchase = conv.astype(int)
    # random products viewed (popularity-weighted)
    pop = products["popularity"].to_numpy()
    pop = pop / pop.sum()
    counts = np.stack([n_pv, n_extra_views + n_lines, n_cart, n_checkout, n_purchase], axis=1)
    total = counts.sum(axis=1)
    s_idx = np.repeat(np.arange(n), total)
    seq = np.arange(len(s_idx)) - np.repeat(np.cumsum(total) - total, total)
    bounds = np.cumsum(counts, axis=1)
    etype = (seq[:, None] >= bounds[s_idx]).sum(axis=1)
    prod = rng.choice(len(pop), len(s_idx), p=pop)
    # converting sessions: the first product views and all add-to-carts are the order's lines
    lines_sorted = lines.sort_values(["order_pos", "line_no"])
    line_sess = order_to_session.loc[lines_sorted["order_pos"].to_numpy()].to_numpy()
    line_rank = lines_sorted["line_no"].to_numpy() - 1
    start_row = np.cumsum(total) - total
    view_rows = start_row[line_sess] + counts[line_sess, 0] + line_rank
    cart_rows = start_row[line_sess] + bounds[line_sess, 1] + line_rank
    lp = lines_sorted["product_idx"].to_numpy()
    prod[view_rows] = lp
    prod[cart_rows] = lp
    # non-converting add-to-cart: the last product viewed
    nc_cart = (~conv[s_idx]) & (etype == 2)
    prod[nc_cart] = prod[np.flatnonzero(nc_cart) - 1]
    gaps = rng.exponential(0.75 * MINUTE, len(s_idx))
    csum = np.cumsum(gaps)
    sess_base = np.repeat(csum[start_row] - gaps[start_row], total)
    rel = csum - sess_base  # time since session start, first event after one gap
    duration = rel[start_row + total - 1]
    anchor = sessions["anchor"].to_numpy()
    # a converting session ends with the purchase at the order time
    started = np.where(conv, anchor - duration, anchor)
    sessions["started"] = started
    sessions["ended"] = started + duration + rng.exponential(1.0 * MINUTE, n)
    sessions["has_purchase"] = conv
    ptype = EVENT_TYPES[etype]
    has_product = (etype == 1) | (etype == 2)
    events = pd.DataFrame({
        "session_pos": s_idx, "seq": seq, "event_type": ptype,
        "ts": started[s_idx] + rel,
        "product_idx": np.where(has_product, prod, -1),
    })
    landing = np.where(rng.random(n) < 0.4, "/", "/p/")
    sessions["landing_kind"] = landing
    sessions["landing_product"] = prod[start_row]
    return sessions, events
