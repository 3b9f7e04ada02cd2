"""The small demo world the end-to-end tests share (built once per session): simulated
sources, then one `crm-warehouse run`, all in a temporary folder with its own Dagster home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_runner import run_cli

CUSTOMERS = "400"




@pytest.fixture(scope="session")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    env = dict(os.environ)
    env.update(
        CRMW_SOURCES_DIR=str(root / "sources"),
        CRMW_WAREHOUSE_PATH=str(root / "warehouse" / "warehouse.duckdb"),
        DAGSTER_HOME=str(root / "dagster_home"),
        CRMW_PII_KEY_FILE=str(root / "keys" / "pii.key"),
        CRMW_PSEUDONYM_KEY_FILE=str(root / "keys" / "pseudonym.key"),
    )
    env.pop("CRMW_ERP_URL", None)
    run_cli(env, "simulate", "--customers", CUSTOMERS, "--quiet")
    first = run_cli(env, "run")
    return {"root": root, "env": env, "first_run": first,
            "warehouse": Path(env["CRMW_WAREHOUSE_PATH"]),
            "sources": Path(env["CRMW_SOURCES_DIR"])}
