"""The dbt project as Dagster sees it: a cached DbtProject whose manifest is never parsed at
import time except once, when it is missing.

* ``dagster dev`` (DAGSTER_IS_DEV_CLI set): ``prepare_if_dev()`` re-parses on every load, so
  model edits show up in the UI at once.
* Everywhere else (``crm-warehouse run``, ``dagster definitions validate``, tests) the manifest in
  ``dbt_project/target/manifest.json`` is used as is, unless it is missing (fresh clone: no
  ``target/``) or older than a file of the project (a pull or an edit): then
  :func:`ensure_manifest` runs ``dbt parse`` once (seconds, no warehouse access). To force
  it: ``.venv/bin/python -m orchestration.defs.dbt.project``.
* The same happens when the warehouse path (``CRMW_WAREHOUSE_PATH``) differs from the one of
  the last parse: dbt keys its partial-parse file on the profile, which holds the path, and
  dagster-dbt copies that file into every invocation. With a file parsed for another path,
  each of a run's four dbt steps did a full parse (measured: "Unable to do partial parsing
  because profile has changed" in each step's dbt.log, 15-20 s each); one parse up front
  lets them all skip parsing.
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse.config import DBT_PROJECT_DIR, duckdb_memory_limit, settings


def dbt_executable() -> str:
    """The dbt next to this Python (the venv's), so an unactivated venv works too."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def dbt_environment() -> None:
    """dbt reads the warehouse path from CRMW_WAREHOUSE_PATH (profiles.yml); default it from
    the project settings so a bare ``dagster`` command works too. dagster-dbt's own
    preparer (``dagster dev``) looks for ``dbt`` on PATH, so the venv's bin goes there."""
    os.environ.setdefault("CRMW_WAREHOUSE_PATH", str(settings().warehouse_path))
    os.environ.setdefault("CRMW_DUCKDB_MEMORY_LIMIT", duckdb_memory_limit())
    if shutil.which("dbt") is None:
        bin_dir = str(Path(dbt_executable()).parent)
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


@cache
def crm_dbt_project() -> DbtProject:
    dbt_environment()
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    ensure_manifest(project)
    return project


PROJECT_FILE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}
GENERATED_FOLDERS = {"target", "logs", "dbt_packages"}


def manifest_is_stale(project: DbtProject) -> bool:
    """True when the manifest is missing or older than a model, macro, seed or config file."""
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    for folder, subfolders, files in os.walk(project.project_dir):
        subfolders[:] = [d for d in subfolders if d not in GENERATED_FOLDERS]
        for name in files:
            path = Path(folder, name)
            if path.suffix in PROJECT_FILE_SUFFIXES and path.stat().st_mtime > built:
                return True
    return False


PARSED_FOR_FILE = "parsed_for_warehouse.txt"


def _profile_inputs() -> str:
    """The environment values ``profiles.yml`` reads: dbt's profile hash covers them."""
    return "\n".join(os.environ.get(name, "") for name in
                     ("CRMW_WAREHOUSE_PATH", "CRMW_DUCKDB_MEMORY_LIMIT"))


def parsed_for_another_warehouse(project: DbtProject) -> bool:
    """True when the last ``dbt parse`` ran with another CRMW_WAREHOUSE_PATH or DuckDB
    memory limit (see module)."""
    marker = project.manifest_path.parent / PARSED_FOR_FILE
    return not marker.exists() or marker.read_text() != _profile_inputs()


def ensure_manifest(project: DbtProject, force: bool = False) -> None:
    """Run ``dbt parse`` when the manifest is missing or stale, was parsed for another
    warehouse path, or ``force`` is set."""
    if force or manifest_is_stale(project) or parsed_for_another_warehouse(project):
        from orchestration.defs.dbt.resource import WarehouseDbtCliResource

        dbt_environment()
        WarehouseDbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
        (project.manifest_path.parent / PARSED_FOR_FILE).write_text(_profile_inputs())
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt parse did not write {project.manifest_path}; run `dbt parse` in "
            f"{project.project_dir} to see why"
        )


if __name__ == "__main__":
    ensure_manifest(DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR),
                    force=True)
    print(f"parsed: {DbtProject(project_dir=DBT_PROJECT_DIR).manifest_path}")
