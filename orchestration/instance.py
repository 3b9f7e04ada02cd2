"""The Dagster home: where runs, event logs and the one-writer limits of this project live.

DuckDB allows one writing process per database file, but Dagster's default (multiprocess)
executor runs steps in parallel processes and the daemon may launch several runs at once.
``ensure_dagster_home`` writes a ``dagster.yaml`` that

* limits every concurrency pool to one slot by default, at op granularity, and sets the
  ``duckdb_warehouse`` pool (the pool of every warehouse-writing asset) to exactly 1, so two
  steps never hold the build database at once, in one run or across runs;
* lets the run queue start one run at a time (every run of this code location writes the
  warehouse), and at most one run tagged ``crmw/warehouse=write`` even if a user raises the
  global limit;
* stores event logs with :mod:`orchestration.event_log_storage` (Dagster's SQLite event log
  with connections kept open: storing ~2,000 events per run was a quarter of a demo run),
  in the default place, ``<home>/history/runs``.

It is idempotent: settings a user added to ``dagster.yaml`` are kept; only the keys above are
(re)set. The CLI, ``make ui`` and the tests all go through it, so they share one behaviour.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestration.defs.resources import WAREHOUSE_WRITER_POOL as WAREHOUSE_POOL
from warehouse.config import settings

WAREHOUSE_RUN_TAG = {"crmw/warehouse": "write"}

MANAGED_CONFIG = {
    "concurrency": {
        "pools": {"default_limit": 1, "granularity": "op"},
        "runs": {
            "max_concurrent_runs": 1,
            "tag_concurrency_limits": [
                {"key": "crmw/warehouse", "value": "write", "limit": 1},
            ],
        },
    },
    "telemetry": {"enabled": False},
}


def _managed_config(home: Path, existing: dict) -> dict:
    if "storage" in existing:  # the user chose a storage (e.g. PostgreSQL): leave it alone
        return MANAGED_CONFIG
    return {
        **MANAGED_CONFIG,
        "event_log_storage": {
            "module": "orchestration.event_log_storage",
            "class": "KeptOpenSqliteEventLogStorage",
            "config": {"base_dir": str(home / "history" / "runs")},
        },
    }


def _merged(existing: dict, managed: dict) -> dict:
    config = dict(existing)
    for key, value in managed.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def ensure_dagster_home(path: str | Path | None = None) -> Path:
    """Create (or update) the Dagster home with the one-writer limits; return its path."""
    home = Path(path or settings().dagster_home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / "dagster.yaml"
    existing = {}
    if config_file.exists():
        existing = yaml.safe_load(config_file.read_text()) or {}
        if not isinstance(existing, dict):
            raise ValueError(f"{config_file}: expected a YAML mapping, found {type(existing)}")
    config = _merged(existing, _managed_config(home, existing))
    if config != existing:
        tmp = config_file.with_suffix(".yaml.tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.replace(config_file)
    _set_pool_limit(home)
    return home


def _set_pool_limit(home: Path) -> None:
    """Store the explicit pool limit in the instance's storage (what the UI shows)."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        if storage.supports_global_concurrency_limits:
            info = storage.get_concurrency_info(WAREHOUSE_POOL)
            if info.slot_count != 1:
                storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
