"""Who the people are: names, e-mails, phones, birth dates and addresses, and their noisy copies.

Faker is used only to fill small pools (a few thousand names, streets, cities) once per world;
the million-person attributes are drawn from those pools with numpy, so identity generation
stays vectorized. Every person gets a unique primary e-mail and phone number, which is what
makes the source records resolvable: noisy copies keep at least two of e-mail, phone and
name + birth date + postal code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from faker import Faker

EMAIL_DOMAINS = {
    "en_US": ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com"],
    "zh_CN": ["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "foxmail.com"],
}


def _unique(values, limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(v, None)
        if len(seen) >= limit:
            break
    return sorted(seen)


def build_pools(locale: str, seed: int) -> dict[str, np.ndarray]:
    """Small value pools from Faker, seeded so the same seed gives the same pools."""
    fake = Faker(locale)
    fake.seed_instance(seed)
    draws = 6000
    pools = {
        "first_f": _unique((fake.first_name_female() for _ in range(draws)), 800),
        "first_m": _unique((fake.first_name_male() for _ in range(draws)), 800),
        "last": _unique((fake.last_name() for _ in range(draws)), 1000),
        "street_name": _unique((fake.street_name() for _ in range(draws)), 1500),
        "city": _unique((fake.city() for _ in range(draws)), 600),
    }
    if locale == "zh_CN":
        pools["roman_first"] = _unique((fake.first_romanized_name() for _ in range(draws)), 400)
        pools["roman_last"] = _unique((fake.last_romanized_name() for _ in range(draws)), 400)
    pools["store_city"] = pools["city"][:12]
    return {k: np.asarray(v, dtype=object) for k, v in pools.items()}


def draw_identities(n: int, locale: str, pools: dict, rng: np.random.Generator,
                    first_index: int) -> pd.DataFrame:
    """Attributes of ``n`` new persons whose running numbers start at ``first_index``."""
    if n == 0:  # numpy string helpers do not take empty arrays: draw one and drop it
        return draw_identities(1, locale, pools, rng, first_index).iloc[:0]
    female = rng.random(n) < 0.52
    first = np.where(female, rng.choice(pools["first_f"], n), rng.choice(pools["first_m"], n))
    last = rng.choice(pools["last"], n)
    age_days = rng.integers(18 * 365, 80 * 365, n)
    birth = (np.datetime64("2024-01-01") - age_days.astype("timedelta64[D]")).astype(str)
    city_idx = rng.integers(0, len(pools["city"]), n)
    city = pools["city"][city_idx]
    postal = _postal_codes(locale, city_idx, rng)
    street = _streets(locale, pools, rng, n)
    number = np.arange(first_index, first_index + n)
    email, email2 = _emails(locale, pools, first, last, number, rng)
    phone = _phones(locale, rng, n, number)
    return pd.DataFrame({
        "first_name": first, "last_name": last, "gender": np.where(female, "F", "M"),
        "birth_date": birth, "email": email, "email2": email2, "phone": phone,
        "street": street, "city": city, "postal_code": postal,
    })


def _postal_codes(locale: str, city_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Postal codes cluster by city, as real ones do: a city prefix plus a local suffix.
    if locale == "zh_CN":
        code = 100000 + (city_idx * 1013) % 800000 + rng.integers(0, 100, len(city_idx))
        return np.char.zfill(code.astype(str), 6).astype(object)
    code = 10000 + (city_idx * 157) % 89000 + rng.integers(0, 40, len(city_idx))
    return np.char.zfill(code.astype(str), 5).astype(object)


def _streets(locale: str, pools: dict, rng: np.random.Generator, n: int) -> np.ndarray:
    name = rng.choice(pools["street_name"], n)
    num = rng.integers(1, 9999, n).astype(str)
    if locale == "zh_CN":
        return (name + num.astype(object) + "号").astype(object)
    return (num.astype(object) + " " + name).astype(object)


def _emails(locale, pools, first, last, number, rng):
    """Unique primary e-mails (the running number guarantees it) and a second address."""
    if locale == "zh_CN":
        f = rng.choice(pools["roman_first"], len(first))
        la = rng.choice(pools["roman_last"], len(first))
    else:
        f, la = first, last
    f = pd.Series(f, dtype=object).str.lower().str.replace(r"[^a-z]", "", regex=True)
    la = pd.Series(la, dtype=object).str.lower().str.replace(r"[^a-z]", "", regex=True)
    domains = np.asarray(EMAIL_DOMAINS[locale], dtype=object)
    style = rng.integers(0, 3, len(first))
    tag = pd.Series(number.astype(str), dtype=object)
    local = np.where(style == 0, f + "." + la + tag,
                     np.where(style == 1, f.str[:1] + la + tag, la + "_" + f + tag))
    email = local + "@" + rng.choice(domains, len(first))
    local2 = f + la + (number * 7 % 997).astype(str) + "x" + tag
    email2 = local2 + "@" + rng.choice(domains, len(first))
    return np.asarray(email, dtype=object), np.asarray(email2, dtype=object)


def _phones(locale: str, rng: np.random.Generator, n: int, number: np.ndarray) -> np.ndarray:
    """Canonical national digits, unique per person: the subscriber part is a bijection of the
    running number (104729 is prime and coprime with the modulus), the prefix is random."""
    if locale == "zh_CN":
        prefix = rng.choice(np.array([130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 152,
                                      158, 159, 176, 177, 180, 181, 186, 187, 188, 189]), n)
        rest = (number * 104729 + 3141592) % 10**8
        return np.char.add(prefix.astype(str), np.char.zfill(rest.astype(str), 8)).astype(object)
    area = rng.integers(201, 990, n)
    area = np.where(area % 100 == 11, area + 1, area)  # N11 codes are service numbers
    exchange_line = 2000000 + (number * 104729 + 3141592) % 7_999_999
    return np.char.add(area.astype(str), exchange_line.astype(str)).astype(object)


# ---------------------------------------------------------------------------------------------
# Formatting and noise: how one system types an attribute.

def format_phone(digits: pd.Series, locale: str, style: np.ndarray) -> pd.Series:
    """Render national digits in one of several formats; style 0 is the system's usual one."""
    d = digits.astype(object)
    if locale == "zh_CN":
        forms = [
            "+86 " + d.str[:3] + " " + d.str[3:7] + " " + d.str[7:],
            d,
            "+86" + d,
            d.str[:3] + "-" + d.str[3:7] + "-" + d.str[7:],
            "(+86) " + d,
        ]
    else:
        forms = [
            "(" + d.str[:3] + ") " + d.str[3:6] + "-" + d.str[6:],
            d.str[:3] + "-" + d.str[3:6] + "-" + d.str[6:],
            d.str[:3] + "." + d.str[3:6] + "." + d.str[6:],
            "+1 " + d.str[:3] + " " + d.str[3:6] + " " + d.str[6:],
            d,
            "+1" + d,
        ]
    out = forms[0].copy()
    for k in range(1, len(forms)):
        mask = style == k
        out[mask] = forms[k][mask]
    return out


def phone_styles(n: int, rate: float, n_forms: int, base: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Style per value: the system's ``base`` style, or with ``rate`` another one."""
    other = rng.random(n) < rate
    alt = (base + rng.integers(1, n_forms, n)) % n_forms
    return np.where(other, alt, base), other


def n_phone_forms(locale: str) -> int:
    return 5 if locale == "zh_CN" else 6


def noisy_email(email: pd.Series, mask: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """Upper-case and/or pad with whitespace the masked addresses."""
    out = email.astype(object).copy()
    kind = rng.integers(0, 4, len(out))
    e = out[mask]
    k = kind[mask]
    e = pd.Series(np.where(k == 0, e.str.upper(),
                  np.where(k == 1, " " + e + " ",
                  np.where(k == 2, e.str[:1].str.upper() + e.str[1:], e.str.upper() + "  "))),
                  index=e.index, dtype=object)
    out[mask] = e
    return out


def typo(names: pd.Series, mask: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """One-character typos (swap, drop or double) in the masked names of 2+ characters."""
    out = names.astype(object).copy()
    idx = np.flatnonzero(mask)
    kinds = rng.integers(0, 3, len(idx))
    pos_u = rng.random(len(idx))
    vals = np.array(out.to_numpy(), dtype=object, copy=True)
    for j, i in enumerate(idx):  # few rows (the typo rate), so a loop is fine here
        s = vals[i]
        if not isinstance(s, str) or len(s) < 2:
            continue
        p = int(pos_u[j] * (len(s) - 1))
        if kinds[j] == 0:
            s = s[:p] + s[p + 1] + s[p] + s[p + 2:]
        elif kinds[j] == 1:
            s = s[:p] + s[p + 1:]
        else:
            s = s[:p] + s[p] + s[p:]
        if s == vals[i]:
            s = vals[i] + vals[i][-1]
        vals[i] = s
    return pd.Series(vals, index=out.index, dtype=object)


def invalid_dates(n: int, rng: np.random.Generator) -> np.ndarray:
    """Impossible calendar dates as typed: Feb 30, April 31, month 13."""
    year = rng.integers(1945, 2005, n).astype(str).astype(object)
    kind = rng.integers(0, 3, n)
    tail = np.where(kind == 0, "-02-30", np.where(kind == 1, "-04-31", "-13-05")).astype(object)
    return year + tail
