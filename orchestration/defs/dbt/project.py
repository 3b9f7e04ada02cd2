"""The dbt project as Dagster sees it: a cached DbtProject whose manifest is never parsed at
import time except once, when it is missing.

* ``dagster dev`` (DAGSTER_IS_DEV_CLI set): the project is re-parsed on every load, so
  model edits show up in the UI at once.
* Everywhere else (``crm-warehouse run``, ``dg check defs``, tests) the manifest in
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

dbt reads the warehouse path and memory cap from the environment (``profiles.yml``). The parse
here hands dbt the resolved settings in its own environment, so loading the definitions
works in a bare shell and changes no variable of this process; the dbt steps of a run read
the variables ``crm-warehouse`` exports for the processes it starts (``dagster dev`` outside
``crm-warehouse ui`` needs ``CRMW_WAREHOUSE_PATH`` set, e.g. in ``.env``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse.config import DBT_PROJECT_DIR, duckdb_memory_limit, settings


def dbt_executable() -> str:
    """The dbt next to this Python (the venv's), so an unactivated venv works too."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def profile_environment() -> dict[str, str]:
    """The variables ``profiles.yml`` reads, from the project settings: what a dbt process
    started from here gets (the values :func:`warehouse.config.export_environment` exports)."""
    return {"CRMW_WAREHOUSE_PATH": str(settings().warehouse_path),
            "CRMW_DUCKDB_MEMORY_LIMIT": duckdb_memory_limit()}


@cache
def crm_dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    # Instead of prepare_if_dev(), which parses with whatever `dbt` is first on PATH.
    ensure_manifest(project, force=project.preparer.using_dagster_dev())
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
    """The values ``profiles.yml`` reads: dbt's profile hash covers them."""
    return "\n".join(profile_environment().values())


def parsed_for_another_warehouse(project: DbtProject) -> bool:
    """True when the last ``dbt parse`` ran with another CRMW_WAREHOUSE_PATH or DuckDB
    memory limit (see module)."""
    marker = project.manifest_path.parent / PARSED_FOR_FILE
    return not marker.exists() or marker.read_text() != _profile_inputs()


def ensure_manifest(project: DbtProject, force: bool = False) -> None:
    """Run ``dbt parse`` when the manifest is missing or stale, was parsed for another
    warehouse path, or ``force`` is set."""
    if force or manifest_is_stale(project) or parsed_for_another_warehouse(project):
        _parse(project)
        (project.manifest_path.parent / PARSED_FOR_FILE).write_text(_profile_inputs())
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt parse did not write {project.manifest_path}; run `dbt parse` in "
            f"{project.project_dir} to see why"
        )


def _parse(project: DbtProject) -> None:
    """``dbt parse`` into the project's target folder, with the settings in dbt's environment
    (logs beside the manifest, as in the dbt steps of a run)."""
    target = str(project.target_path)
    proc = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir),
         "--profiles-dir", str(project.profiles_dir), "--target-path", target,
         "--log-path", target],
        cwd=project.project_dir, capture_output=True, text=True,
        env={**os.environ, **profile_environment(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt parse failed in {project.project_dir} (exit {proc.returncode})"
                           f":\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}")


if __name__ == "__main__":
    ensure_manifest(DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR),
                    force=True)
    print(f"parsed: {DbtProject(project_dir=DBT_PROJECT_DIR).manifest_path}")
