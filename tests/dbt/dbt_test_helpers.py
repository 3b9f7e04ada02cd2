"""Helpers for the dbt tests: a simulated world, extracted and built by dbt.

The session fixture generates a small demo world with the simulator (default defect rates),
loads it with the extractors into a temporary warehouse, and runs ``dbt build`` (models,
seeds, snapshots, data tests and unit tests) in a subprocess, as Dagster does. Tests read the
result read-only; tests that change data work on a copy of the file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.config import DBT_PROJECT_DIR

DBT = str(Path(sys.executable).parent / "dbt")
TEST_CUSTOMERS = int(os.environ.get("CRMW_TEST_DBT_CUSTOMERS", "800"))
TEST_HISTORY_DAYS = 240


@dataclass(frozen=True)
class BuiltWarehouse:
    """A warehouse built by dbt from simulated sources, and where everything lives."""

    root: Path
    sources_dir: Path
    warehouse_path: Path
    target_path: Path
    run_results: dict

    @property
    def truth_person_records(self) -> Path:
        return self.sources_dir / "_truth" / "person_records.parquet"

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse_path), read_only=True)

    def copy_to(self, directory: Path) -> Path:
        """A private copy of the warehouse for tests that write (named warehouse.duckdb, the
        catalog name the dbt manifest expects)."""
        directory.mkdir(parents=True, exist_ok=True)
        dest = directory / "warehouse.duckdb"
        shutil.copy(self.warehouse_path, dest)
        return dest


def dbt_env(warehouse_path: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, CRMW_WAREHOUSE_PATH=str(warehouse_path), **extra)


def run_dbt(args: list[str], warehouse_path: Path, target_path: Path,
            check: bool = True) -> subprocess.CompletedProcess:
    """Run the venv's dbt CLI on the project against ``warehouse_path``."""
    proc = subprocess.run(
        [DBT, *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(target_path),
         "--log-path", str(target_path / "logs")],
        env=dbt_env(warehouse_path), capture_output=True, text=True, timeout=1800,
    )
    if check and proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{tail}\n{proc.stderr[-2000:]}")
    return proc


def simulate_and_extract(sources_dir: Path, warehouse_path: Path, monkeypatch) -> None:
    """Simulated sources (default defect rates) loaded into raw_* by the extractors."""
    from contracts.sources import SOURCE_TABLES
    from simulator.config import SimConfig
    from simulator.world import simulate
    from warehouse.extract import extract

    monkeypatch.setenv("CRMW_SOURCES_DIR", str(sources_dir))
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(warehouse_path))
    monkeypatch.delenv("CRMW_ERP_URL", raising=False)
    monkeypatch.delenv("CRMW_ECOMMERCE_DIR", raising=False)
    monkeypatch.delenv("CRMW_SERVICE_DESK_DIR", raising=False)
    simulate(SimConfig(customers=TEST_CUSTOMERS, seed=11, out_dir=sources_dir,
                       history_days=TEST_HISTORY_DAYS, verbose=False))
    for table in SOURCE_TABLES:
        extract(table, warehouse_path=warehouse_path)


