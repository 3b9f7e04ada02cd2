"""One source of configuration: environment variables with the ``CRMW_`` prefix.

Every path has a working default for the demo, derived from the repository root, so nothing
depends on the current working directory. Every default data file lives under the git-ignored
``data/`` folder (:data:`DATA_DIR`), never inside a Python package: the build warehouse and,
beside it, the files derived from its folder (``marts.duckdb``, ``parquet/``, ``pii.duckdb``,
the demo keys, ``artifacts/``, ``data_docs/``, ``report/``), and the demo sources.
Dagster resources, dbt's ``profiles.yml`` and the CLI all read the warehouse path from here
(dbt through ``CRMW_WAREHOUSE_PATH``, which :func:`export_environment` sets), so the three
can never disagree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Generated data (git-ignored): the default home of the warehouse files and the demo sources.
DATA_DIR = REPO_ROOT / "data"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`settings` so environment changes are picked up."""

    warehouse_path: Path
    sources_dir: Path
    erp_url: str
    ecommerce_dir: Path
    service_desk_dir: Path
    dagster_home: Path
    reporting_currency: str
    source_timezone: str

    @property
    def truth_dir(self) -> Path:
        """Where the simulator writes its ground truth (only for demo sources)."""
        return self.sources_dir / "_truth"

    @property
    def artifacts_dir(self) -> Path:
        return self.warehouse_path.parent / "artifacts"

    @property
    def data_docs_dir(self) -> Path:
        return self.warehouse_path.parent / "data_docs"


def int_setting(name: str, default: int, minimum: int) -> int:
    """An integer ``CRMW_*`` setting; unset or empty gives ``default``. A value that is not a
    whole number, or is below ``minimum``, is an error naming the variable and the value."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not a whole number") from exc
    if value < minimum:
        raise ValueError(f"environment variable {name}={raw!r} must be at least {minimum}")
    return value


#: DuckDB's own default is 80% of RAM per database instance; the pipeline holds at most one
#: open at a time (plus dbt's), and the scale target is a peak under 8 GB on a 24 GB machine.
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def duckdb_memory_limit() -> str:
    """``CRMW_DUCKDB_MEMORY_LIMIT``: the memory DuckDB may use before it spills to disk, in
    every warehouse connection and in dbt's (``profiles.yml``). A value DuckDB would not
    read as a size is an error naming the variable."""
    raw = os.environ.get("CRMW_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT
    if not _SIZE.match(raw):
        raise ValueError(f"environment variable CRMW_DUCKDB_MEMORY_LIMIT={raw!r} is not a size "
                         "such as 4GB or 512MB")
    return raw.strip()


def settings() -> Settings:
    """Read the ``CRMW_*`` environment now (tests change it between calls)."""
    sources = _path("CRMW_SOURCES_DIR", DATA_DIR / "demo_sources")
    return Settings(
        warehouse_path=_path("CRMW_WAREHOUSE_PATH", DATA_DIR / "warehouse.duckdb"),
        sources_dir=sources,
        erp_url=os.environ.get("CRMW_ERP_URL") or f"sqlite:///{sources / 'erp' / 'erp.sqlite'}",
        ecommerce_dir=_path("CRMW_ECOMMERCE_DIR", sources / "ecommerce"),
        service_desk_dir=_path("CRMW_SERVICE_DESK_DIR", sources / "service_desk"),
        dagster_home=_path("DAGSTER_HOME", REPO_ROOT / ".dagster_home"),
        reporting_currency=os.environ.get("CRMW_REPORTING_CURRENCY", "USD"),
        source_timezone=os.environ.get("CRMW_SOURCE_TIMEZONE", "America/New_York"),
    )


def export_environment() -> Settings:
    """Put the resolved settings back into ``os.environ`` for child processes (dbt, Dagster)."""
    s = settings()
    os.environ["CRMW_WAREHOUSE_PATH"] = str(s.warehouse_path)
    os.environ["CRMW_SOURCES_DIR"] = str(s.sources_dir)
    os.environ["CRMW_DUCKDB_MEMORY_LIMIT"] = duckdb_memory_limit()  # dbt's profile reads it
    os.environ.setdefault("DAGSTER_HOME", str(s.dagster_home))
    s.dagster_home.mkdir(parents=True, exist_ok=True)
    s.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    # dbt's pseudonymize() macro reads the key from the environment; without it pseudonyms
    # would fall back to a public development key.
    from warehouse.pii.keys import export_pseudonym_key

    export_pseudonym_key()
    return s
