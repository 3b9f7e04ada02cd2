"""DuckDB's memory cap (CRMW_DUCKDB_MEMORY_LIMIT) reaches every warehouse connection and dbt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.config import DBT_PROJECT_DIR, duckdb_memory_limit
from warehouse.connection import connect, scratch

MEMORY_LIMIT = "select current_setting('memory_limit')"


def test_warehouse_connections_are_capped(tmp_path, monkeypatch):
    monkeypatch.delenv("CRMW_DUCKDB_MEMORY_LIMIT", raising=False)
    con = connect(tmp_path / "w.duckdb")
    assert con.execute(MEMORY_LIMIT).fetchone()[0] == "3.7 GiB"  # the 4GB default
    con.close()
    monkeypatch.setenv("CRMW_DUCKDB_MEMORY_LIMIT", "512MB")
    con = connect(tmp_path / "w.duckdb", read_only=True)
    assert con.execute(MEMORY_LIMIT).fetchone()[0] == "488.2 MiB"
    con.close()


def test_scratch_connections_are_capped_and_spill_where_told(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMW_DUCKDB_MEMORY_LIMIT", "512MB")
    con = scratch(tmp_path / "spill")
    assert con.execute(MEMORY_LIMIT).fetchone()[0] == "488.2 MiB"
    assert con.execute("select current_setting('temp_directory')").fetchone()[0] == \
        str(tmp_path / "spill")
    assert (tmp_path / "spill").is_dir()
    con.close()


@pytest.mark.parametrize("bad", ["lots", "4 gigabytes", "-1GB", "GB"])
def test_a_value_that_is_not_a_size_names_the_variable(monkeypatch, bad):
    monkeypatch.setenv("CRMW_DUCKDB_MEMORY_LIMIT", bad)
    with pytest.raises(ValueError, match="CRMW_DUCKDB_MEMORY_LIMIT"):
        duckdb_memory_limit()


@pytest.mark.slow
def test_dbt_connections_are_capped_by_the_same_setting(tmp_path):
    env = {**os.environ, "CRMW_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
           "CRMW_DUCKDB_MEMORY_LIMIT": "640MB"}
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run(
        [str(dbt), "show", "--inline", f"{MEMORY_LIMIT} as memory_limit", "--output", "json",
         "--log-format", "json", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    shown = [json.loads(line)["data"] for line in done.stdout.splitlines()
             if line.startswith("{") and '"preview"' in line]
    assert shown, done.stdout[-2000:]
    assert json.loads(shown[-1]["preview"]) == [{"memory_limit": "610.3 MiB"}]
