"""Source customer records of each person: ERP members, web accounts and service-desk contacts,
each typed by a different system with its own noise (the defects identity resolution must undo).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.identity import (
    format_phone,
    invalid_dates,
    n_phone_forms,
    noisy_email,
    phone_styles,
    typo,
)

ADDRESS = ["street", "city", "postal_code", "country_code"]


def add_defect(df: pd.DataFrame, mask: np.ndarray, column: str | None, kind: str) -> None:
    """Note a defect on the masked rows in their ``_defects`` column ("column:type;...")."""
    tag = f"{column or ''}:{kind};"
    cur = df["_defects"].to_numpy()
    df["_defects"] = np.where(mask, cur + tag, cur)


def identity_rows(persons: pd.DataFrame, kind: str, is_dup: np.ndarray, cfg,
                  rng: np.random.Generator, phone_base: int) -> pd.DataFrame:
    """Typed identity attributes of one record per row of ``persons`` for a system.

    kind: member | account | contact. Duplicate records of a person use the second e-mail
    (or none) but keep the phone, name and birth date, so they remain resolvable.
    """
    d = cfg.defects
    n = len(persons)
    out = pd.DataFrame(index=range(n))
    out["_defects"] = np.full(n, "", dtype=object)
    first = persons["first_name"].reset_index(drop=True)
    last = persons["last_name"].reset_index(drop=True)
    m = rng.random(n) < d.name_typo
    if kind == "contact":
        sep = "" if cfg.locale == "zh_CN" else " "
        full = (last + first) if cfg.locale == "zh_CN" else (first + sep + last)
        out["full_name"] = typo(full, m, rng)
        add_defect(out, m, "full_name", "name_typo")
    else:
        on_first = rng.random(n) < 0.5
        out["first_name"] = typo(first, m & on_first, rng)
        out["last_name"] = typo(last, m & ~on_first, rng)
        add_defect(out, m & on_first, "first_name", "name_typo")
        add_defect(out, m & ~on_first, "last_name", "name_typo")
    email = np.where(is_dup, persons["email2"].to_numpy(), persons["email"].to_numpy())
    email = pd.Series(email, dtype=object)
    m = rng.random(n) < d.email_noise
    out["email"] = noisy_email(email, m, rng)
    add_defect(out, m, "email", "email_noise")
    styles, other = phone_styles(n, d.phone_format, n_phone_forms(cfg.locale), phone_base, rng)
    out["phone"] = format_phone(persons["phone"].reset_index(drop=True), cfg.locale, styles)
    add_defect(out, other, "phone", "phone_format")
    if kind != "contact":
        out["birth_date"] = persons["birth_date"].to_numpy()
        m = rng.random(n) < d.invalid_birth_date
        out.loc[m, "birth_date"] = invalid_dates(int(m.sum()), rng)
        add_defect(out, m, "birth_date", "invalid_birth_date")
        for col in ["street", "city", "postal_code"]:
            out[col] = persons[col].to_numpy()
        out["country_code"] = persons["country_code"].to_numpy()
        out["gender"] = persons["gender"].to_numpy()
    # missing values: optional attributes left empty (a contact always keeps e-mail or phone)
    if kind == "contact":
        drop = rng.random(n) < d.missing_value + 0.1
        which = rng.random(n) < 0.6
        _blank(out, drop & which, "phone")
        _blank(out, drop & ~which, "email")
    else:
        optional = ["phone", "birth_date", "address"] + (["email", "gender"] if kind == "member"
                                                         else [])
        for col in optional:
            m = rng.random(n) < d.missing_value
            if col == "address":
                for c in ADDRESS[:3]:
                    out.loc[m, c] = None
                add_defect(out, m, "address", "missing_value")
            else:
                _blank(out, m, col)
    if kind == "member":
        # dup member records were keyed in at the till: no e-mail half of the time
        no_mail = is_dup & (rng.random(n) < 0.5)
        _blank(out, no_mail, "email")
        natural = out["_defects"].str.replace("email:missing_value;", "", regex=False)
        out["_defects"] = np.where(no_mail, natural, out["_defects"])  # not a defect: never given
        g = out["gender"].to_numpy().astype(object)
        u = rng.random(n)
        g = np.where(u < 0.03, "U", np.where(u < 0.04, np.where(g == "F", "female", "male"), g))
        out["gender"] = np.where(pd.isna(out["gender"]).to_numpy(), None, g)
    return out


def _blank(out: pd.DataFrame, mask: np.ndarray, col: str) -> None:
    """Empty a column; an earlier defect noted on that value no longer applies."""
    out.loc[mask, col] = None
    cleaned = out["_defects"].str.replace(rf"{col}:[a-z_]+;", "", regex=True)
    out["_defects"] = np.where(mask, cleaned, out["_defects"])
    add_defect(out, mask, col, "missing_value")
