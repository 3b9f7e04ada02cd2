"""Settings of one simulated world: size, seed, locale, behaviour parameters and defect rates.

Everything that changes the generated sources lives here, so a manifest that stores these
dataclasses (``_truth/manifest.json``) is enough to regenerate the same bytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class DefectRates:
    """Probability of each injected defect; see simulator/README.md for what each one does."""

    duplicate_row: float = 0.005  # an export line delivered twice in the same file
    redelivery: float = 0.02  # an export file delivered again under a `_redelivery` name
    email_noise: float = 0.05  # e-mail with upper case and/or surrounding whitespace
    phone_format: float = 0.30  # phone in another format than the system's usual one
    name_typo: float = 0.02  # one character swapped, dropped or doubled in a name
    missing_value: float = 0.03  # an optional identifying attribute left empty
    invalid_birth_date: float = 0.005  # impossible birth date such as 1987-02-30
    invalid_order_date: float = 0.002  # order dated 1900-01-01 or years in the future
    negative_quantity: float = 0.002  # order line with a negative quantity
    unknown_product: float = 0.002  # line, item or event with a product code not in the master
    unknown_status: float = 0.002  # order or ticket status outside the documented codes
    late_arrival: float = 0.02  # export row delivered in a later day's file (1-5 days)
    late_erp_entry: float = 0.02  # ERP order keyed in 1-7 days after it happened
    duplicate_member: float = 0.02  # person with a second ERP member record
    duplicate_account: float = 0.02  # account holder with a second web account
    duplicate_contact: float = 0.05  # later ticket filed under a new duplicate contact

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def with_overrides(self, overrides: dict[str, float]) -> DefectRates:
        unknown = sorted(set(overrides) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown defect name(s) {unknown}; known: {self.names()}")
        for name, rate in overrides.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"defect rate {name}={rate} is not between 0 and 1")
        return dataclasses.replace(self, **overrides)


@dataclass(frozen=True)
class BehaviourParams:
    """Latent-behaviour distributions (time unit: days; money in the locale's currency at 1x)."""

    # BG/NBD: purchase rate lambda ~ Gamma(shape=r, rate=alpha); dropout p ~ Beta(a, b).
    bgnbd_r: float = 0.9
    bgnbd_alpha: float = 30.0  # mean lambda = r / alpha = 0.03 purchases per day
    bgnbd_a: float = 0.8
    bgnbd_b: float = 4.0  # mean p = a / (a + b) = 0.167
    # Gamma-Gamma: transaction value ~ Gamma(shape=p, rate=nu), nu ~ Gamma(shape=q, rate=gamma).
    gg_p: float = 6.0
    gg_q: float = 4.0
    gg_gamma: float = 30.0  # mean value = p * gamma / (q - 1) = 60 (times the price scale)
    # Share of the final population that already exists at the start date.
    initial_share: float = 0.4
    # Web share of purchases ~ Beta(web_a, web_b); persons above account_threshold have an account.
    web_a: float = 0.7
    web_b: float = 1.3
    account_threshold: float = 0.12
    member_share: float = 0.85  # persons with an ERP loyalty membership
    linked_share: float = 0.6  # accounts that carry the person's loyalty number
    anonymous_store_share: float = 0.15  # extra walk-in store sales with no person behind them
    card_not_shown: float = 0.05  # member store purchase rung up without the card
    ticket_rate_web: float = 0.08
    ticket_rate_store: float = 0.04
    bad_service_share: float = 0.30  # tickets that are slow, unresolved or botched
    bad_service_dropout: float = 0.35  # extra dropout chance after a bad experience
    return_rate: float = 0.06
    review_rate: float = 0.07
    csat_response_rate: float = 0.45
    nps_response_rate: float = 0.15  # per contact and quarter
    browse_per_purchase: float = 2.5  # non-converting sessions per expected web purchase
    guest_session_share: float = 0.35  # share of all sessions that are anonymous guests
    move_rate_per_year: float = 0.06  # persons who change address


#: Time zone of the naive ERP and service-desk timestamps when the caller names none. The
#: warehouse's ``CRMW_SOURCE_TIMEZONE`` has the same default; the ``simulate`` command passes
#: the configured zone through its CLI context, so the simulator reads no environment itself.
DEFAULT_TIMEZONE = "America/New_York"

# Persons simulated together. A fixed constant (never derived from the machine), so the same
# seed gives the same bytes everywhere; it bounds memory (one chunk's rows are held at a time).
# Tests may monkeypatch it to get several chunks from a small world.
PERSONS_PER_CHUNK = 25_000


def chunk_seed(key: list[int], chunk: int) -> list[int]:
    """Seed of a chunk's random stream: chunk 0 keeps the key of a world simulated in one piece."""
    return key if chunk == 0 else [*key, chunk]


LOCALES = {
    "en_US": {"country": "US", "currency": "USD", "price_scale": 1.0},
    "zh_CN": {"country": "CN", "currency": "CNY", "price_scale": 7.0},
}


@dataclass(frozen=True)
class SimConfig:
    customers: int = 3000
    seed: int = 42
    locale: str = "en_US"
    # Required, and keyword-only: the simulator knows no warehouse settings, so the caller
    # (the ``simulate`` command, a test) always says where the sources go.
    out_dir: Path = field(kw_only=True)
    erp_url: str | None = None  # None: SQLite file <out>/erp/erp.sqlite
    start_date: date = date(2024, 11, 1)
    history_days: int = 730
    timezone: str = DEFAULT_TIMEZONE
    defects: DefectRates = field(default_factory=DefectRates)
    behaviour: BehaviourParams = field(default_factory=BehaviourParams)
    verbose: bool = True

    def __post_init__(self) -> None:
        if self.locale not in LOCALES:
            raise ValueError(f"locale {self.locale!r} is not supported; use one of {list(LOCALES)}")
        if self.customers < 1:
            raise ValueError(f"customers must be at least 1, got {self.customers}")
        if self.history_days < 1:
            raise ValueError(f"history_days must be at least 1, got {self.history_days}")
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    @property
    def country(self) -> str:
        return LOCALES[self.locale]["country"]

    @property
    def currency(self) -> str:
        return LOCALES[self.locale]["currency"]

    @property
    def price_scale(self) -> float:
        return LOCALES[self.locale]["price_scale"]

    @property
    def resolved_erp_url(self) -> str:
        return self.erp_url or f"sqlite:///{self.out_dir / 'erp' / 'erp.sqlite'}"

    def to_json(self) -> dict:
        """A JSON-ready description (paths and URLs included; no wall-clock time)."""
        return {
            "customers": self.customers,
            "seed": self.seed,
            "locale": self.locale,
            "country": self.country,
            "currency": self.currency,
            "erp_url": (_redact(self.resolved_erp_url) if self.erp_url
                        else "sqlite:<out>/erp/erp.sqlite"),
            "start_date": self.start_date.isoformat(),
            "history_days": self.history_days,
            "timezone": self.timezone,
            "defects": dataclasses.asdict(self.defects),
            "behaviour": dataclasses.asdict(self.behaviour),
        }

    @classmethod
    def from_json(cls, data: dict, out_dir: Path, erp_url: str | None) -> SimConfig:
        return cls(
            customers=data["customers"], seed=data["seed"], locale=data["locale"],
            out_dir=out_dir, erp_url=erp_url,
            start_date=date.fromisoformat(data["start_date"]),
            history_days=data["history_days"], timezone=data["timezone"],
            defects=DefectRates(**data["defects"]), behaviour=BehaviourParams(**data["behaviour"]),
        )


def _redact(url: str) -> str:
    """Drop a password from a database URL before it is written to the manifest."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
