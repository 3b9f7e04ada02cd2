"""Small simulated worlds shared by the simulator tests (a few hundred persons, short history)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from simulator.config import DefectRates, SimConfig
from simulator.world import simulate

SMALL = {"customers": 300, "history_days": 90, "timezone": "America/New_York", "verbose": False}


def source_hashes(out: Path) -> dict[str, str]:
    """md5 of every delivered source file and truth file (the simulator state excluded)."""
    return {str(p.relative_to(out)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and "state" not in p.parts}


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    simulate(SimConfig(out_dir=out, seed=42, **SMALL))
    return out


@pytest.fixture(scope="session")
def noisy_world(tmp_path_factory) -> tuple[Path, DefectRates]:
    """Higher defect rates so that measured rates have a tight relative tolerance."""
    out = tmp_path_factory.mktemp("noisy")
    rates = DefectRates().with_overrides({
        "email_noise": 0.2, "duplicate_row": 0.05, "negative_quantity": 0.05,
        "name_typo": 0.1, "unknown_product": 0.05, "late_arrival": 0.1,
    })
    simulate(SimConfig(out_dir=out, seed=7, defects=rates, **{**SMALL, "customers": 600}))
    return out, rates
