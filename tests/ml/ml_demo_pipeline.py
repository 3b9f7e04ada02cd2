"""Build the default demo warehouse (simulator defaults -> extractors -> dbt) in a temp dir.

Used by the ml tests that must hold "on the default demo data": the same simulator
configuration as ``make demo`` (3,000 persons, seed 42, two years), the real extraction
library and the real dbt project, run straight (not through Dagster) to keep the test lean.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from contracts.sources import SOURCE_TABLES
from simulator.config import SimConfig
from simulator.world import simulate
from warehouse.config import DBT_PROJECT_DIR
from warehouse.extract.run import extract


def build_demo_warehouse(root: Path) -> tuple[Path, Path]:
    """(warehouse file, truth dir). Sets ``CRMW_*`` for the duration of the build only."""
    sources, warehouse = root / "sources", root / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True)
    saved = {k: os.environ.get(k) for k in ("CRMW_SOURCES_DIR", "CRMW_WAREHOUSE_PATH")}
    os.environ["CRMW_SOURCES_DIR"], os.environ["CRMW_WAREHOUSE_PATH"] = str(sources),\
        str(warehouse)
    try:
        simulate(SimConfig(out_dir=sources, verbose=False))
        for table in SOURCE_TABLES:
            extract(table)
        dbt = Path(sys.executable).parent / "dbt"
        for command in ("seed", "run"):
            proc = subprocess.run(
                [str(dbt), command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                 str(DBT_PROJECT_DIR), "--target-path", str(root / "dbt_target"),
                 "--log-path", str(root / "dbt_logs"), "--quiet"],
                env=dict(os.environ), capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(f"dbt {command} failed:\n{proc.stdout[-4000:]}\n"
                                   f"{proc.stderr[-4000:]}")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return warehouse, sources / "_truth"
