"""The floor for the marts: their compiled SQL run directly in one DuckDB connection.

``dbt compile --full-refresh`` (into a private target path, so the project's own ``target/``
is untouched) gives every model's SQL with refs resolved, incremental models as full builds
(as the stage built them on a fresh warehouse). The marts models are then created in dependency
order (from the manifest) in a copy of the warehouse whose staging and intermediate layers are
already built: no dbt, no Dagster, no tests, just the SQL. What dbt and Dagster add on top of
this is the overhead the issue bounds at 1.5x.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from warehouse.config import DBT_PROJECT_DIR


def compile_project(target_path: Path, env: dict[str, str]) -> dict:
    """Run ``dbt compile`` and return the manifest (raises naming the log on failure)."""
    from orchestration.defs.dbt.project import dbt_executable

    target_path.mkdir(parents=True, exist_ok=True)
    log = target_path / "dbt_compile.log"
    with open(log, "wb") as out:
        code = subprocess.call(
            [dbt_executable(), "compile", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target_path),
             "--log-path", str(target_path / "logs"), "--quiet", "--full-refresh"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=DBT_PROJECT_DIR)
    if code != 0:
        raise RuntimeError(f"dbt compile failed (exit {code}); see {log}")
    return json.loads((target_path / "manifest.json").read_text())


def marts_before_ml(manifest: dict) -> set[str]:
    """Names of the marts models of the ``dbt_marts`` stage: schema ``marts``, not reading the
    ML scores (dbt sources in schema ``ml``) directly or through another model."""
    nodes = manifest["nodes"]
    sources = manifest["sources"]
    reads_ml: dict[str, bool] = {}

    def depends_on_ml(unique_id: str) -> bool:
        if unique_id in sources:
            return sources[unique_id]["schema"] == "ml"
        if unique_id not in nodes:
            return False
        if unique_id not in reads_ml:
            reads_ml[unique_id] = False  # cycles cannot happen in dbt; guards the recursion
            parents = nodes[unique_id].get("depends_on", {}).get("nodes", [])
            reads_ml[unique_id] = any(depends_on_ml(p) for p in parents)
        return reads_ml[unique_id]

    return {n["name"] for uid, n in nodes.items()
            if n["resource_type"] == "model" and n["schema"] == "marts"
            and not depends_on_ml(uid)}


def marts_models_in_order(manifest: dict, names: set[str]) -> list[dict]:
    """The manifest nodes of the given model names, each after the models it refs."""
    nodes = {n["name"]: n for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["name"] in names}
    missing = names - nodes.keys()
    if missing:
        raise ValueError(f"models not in the dbt manifest: {sorted(missing)}")
    ordered, seen = [], set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for parent in nodes[name].get("depends_on", {}).get("nodes", []):
            parent_name = parent.split(".")[-1]
            if parent_name in nodes:
                visit(parent_name)
        ordered.append(nodes[name])

    for name in sorted(nodes):
        visit(name)
    return ordered


def run_floor(warehouse_path: Path, models: list[dict]) -> dict:
    """Create every model from its compiled SQL in one connection; seconds per model."""
    from warehouse.connection import connect

    per_model: dict[str, float] = {}
    con = connect(warehouse_path)
    con.execute("set enable_progress_bar = false")  # it filled the benchmark's log at 1M
    try:
        started = time.perf_counter()
        for node in models:
            sql = node.get("compiled_code")
            if not sql:
                raise ValueError(f"model {node['name']} has no compiled SQL in the manifest")
            relation = f'"{node["schema"]}"."{node["alias"] or node["name"]}"'
            kind = "VIEW" if node["config"].get("materialized") == "view" else "TABLE"
            t0 = time.perf_counter()
            con.execute(f"CREATE SCHEMA IF NOT EXISTS \"{node['schema']}\"")
            existing = con.execute(
                "select table_type from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                [node["schema"], node["alias"] or node["name"]]).fetchone()
            if existing:  # DuckDB's DROP VIEW IF EXISTS fails on a table, so drop by kind
                con.execute(f"DROP {'VIEW' if existing[0] == 'VIEW' else 'TABLE'} {relation}")
            con.execute(f"CREATE {kind} {relation} AS {sql}")
            per_model[node["name"]] = time.perf_counter() - t0
        seconds = time.perf_counter() - started
    finally:
        con.close()
    return {"seconds": seconds, "models": len(models), "per_model_seconds": per_model}
