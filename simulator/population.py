"""The people: when they arrive and their latent behaviour (the truth the models should recover).

BG/NBD ("buy till you die"): while alive a person buys as a Poisson process with rate
lambda ~ Gamma(r, alpha); after every repeat purchase they leave for good with probability
p ~ Beta(a, b). Gamma-Gamma: each purchase is worth Gamma(p, nu) with nu ~ Gamma(q, gamma).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.config import BehaviourParams
from simulator.identity import draw_identities

DEVICES = np.array(["desktop", "mobile", "tablet", "app"], dtype=object)
DEVICE_P = [0.4, 0.4, 0.08, 0.12]
NEVER = 1e9  # a day number that never comes (no duplicate record, no dropout)


def arrival_days(n_total: int, history_days: int, params: BehaviourParams,
                 rng: np.random.Generator) -> np.ndarray:
    """Acquisition day (days since the start date) of the initial world's persons.

    A share exists before the start (negative days, up to three years back); the rest arrive
    over the history with a mild upward trend (density rising by half over the period).
    """
    n_before = int(round(n_total * params.initial_share))
    before = -rng.uniform(1.0, 3 * 365.0, n_before)
    u = rng.random(n_total - n_before)
    # inverse CDF of density proportional to (1 + 0.5 x) on [0, 1]
    x = (-1.0 + np.sqrt(1.0 + u * (1.0 + 0.25) * 4 * 0.25)) / (2 * 0.25) if len(u) else u
    after = np.sort(np.clip(x, 0.0, 1.0 - 1e-9) * history_days)
    return np.concatenate([np.sort(before), after])


def new_persons(acquired: np.ndarray, first_index: int, cfg, pools: dict,
                rng: np.random.Generator) -> pd.DataFrame:
    """Latent parameters, identity and record plans of persons arriving on ``acquired`` days."""
    b, d = cfg.behaviour, cfg.defects
    n = len(acquired)
    idx = np.arange(first_index, first_index + n)
    lam = rng.gamma(b.bgnbd_r, 1.0 / b.bgnbd_alpha, n)
    p_drop = rng.beta(b.bgnbd_a, b.bgnbd_b, n)
    nu = rng.gamma(b.gg_q, 1.0 / b.gg_gamma, n)
    web_share = rng.beta(b.web_a, b.web_b, n)
    has_account = web_share > b.account_threshold
    has_member = rng.random(n) < b.member_share
    # Persons with neither record still buy (anonymously in stores).
    persons = pd.DataFrame({
        "person_idx": idx,
        "person_id": [f"P{i + 1:07d}" for i in idx],
        "acquired_day": acquired,
        "lam": lam,
        "p_drop": p_drop,
        "gg_p": np.full(n, b.gg_p),
        "nu": nu,
        "web_share": np.where(has_account, web_share, 0.0),
        "has_member": has_member,
        "has_account": has_account,
        "fav1": rng.integers(0, 12, n),
        "fav2": rng.integers(0, 12, n),
        "device": rng.choice(DEVICES, n, p=DEVICE_P),
        "home_store": rng.integers(0, 12, n),
        "opt_in": rng.random(n) < 0.6,
        "alive": True,
        "dropout_day": np.nan,
        "n_purchases": 0,
        "n_tickets": 0,
        "n_bad_tickets": 0,
    })
    ident = draw_identities(n, cfg.locale, pools, rng, first_index)
    persons = pd.concat([persons, ident], axis=1)
    persons["country_code"] = cfg.country
    # Record plans: when each record comes into being (NEVER = not at all).
    join_delay = rng.exponential(2.0, n)
    persons["member_day"] = np.where(has_member, acquired + np.minimum(join_delay, 10), NEVER)
    persons["account_day"] = np.where(has_account, acquired, NEVER)
    dup_m = has_member & (rng.random(n) < d.duplicate_member)
    dup_a = has_account & (rng.random(n) < d.duplicate_account)
    persons["dup_member_day"] = np.where(dup_m, persons["member_day"] + rng.exponential(150, n) + 1,
                                         NEVER)
    persons["dup_account_day"] = np.where(dup_a, acquired + rng.exponential(150, n) + 1, NEVER)
    persons["linked"] = has_member & has_account & (rng.random(n) < b.linked_share)
    for col in ("member_id", "dup_member_id", "account_num", "dup_account_num", "contact_num"):
        persons[col] = -1
    return persons
