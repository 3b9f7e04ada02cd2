"""`kill -9` of `crm-warehouse run` while dbt writes the warehouse, and again while it
publishes, then a new run: it recovers the dead runs (marked failed, pool slot freed), no dbt
process outlives its run, the new run completes with the same marts as the clean run before,
and a BI reader of data/marts.duckdb never fails meanwhile.

Real processes on the session's small demo world (conftest.py): the CLI in a subprocess, dbt
in its own, DuckDB, Dagster's SQLite home. Runs after the world's first run, with no new
data, so the marts must come out exactly as they were.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import recovery

pytestmark = pytest.mark.slow

CHECKED_MARTS = ("dim_customer", "fct_orders", "customer_rfm", "fct_order_lines")
PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    return dict(item.decode(errors="replace").split("=", 1)
                for item in raw.split(b"\0") if b"=" in item)


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def _children(pid: int) -> list[int]:
    return [c for c in _pids() if (_stat(c) or ["", ""])[1] == str(pid)]


def _processes_of(warehouse: Path) -> list[int]:
    """Live processes started for this world (the CLI, its dbt children): their environment
    names its warehouse. The BI reader and this test's process do not carry it."""
    return [p for p in _pids() if p != os.getpid() and _alive(p)
            and _environ(p).get("CRMW_WAREHOUSE_PATH") == str(warehouse)]


def _wait_for(condition, what: str, timeout: float, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}:\n"
                        f"{log.read_text()[-4000:]}")
        time.sleep(0.02)
    pytest.fail(f"no {what} within {timeout} s:\n{log.read_text()[-4000:]}")


def _start_run(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orchestration.cli", "run", "--quiet"],
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _kill(proc: subprocess.Popen, warehouse: Path, watched: list[int]) -> None:
    """SIGKILL the CLI (the run runs in its process); nothing of it may survive 5 s later."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (
            any(_alive(p) for p in watched) or _processes_of(warehouse)):
        time.sleep(0.1)
    survivors = [p for p in watched if _alive(p)] + _processes_of(warehouse)
    assert not survivors, "processes outlived the killed run: " + "; ".join(
        f"{p}: {_cmdline(p)[:200]}" for p in survivors)


def _fingerprint(database: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent checksum of every column of the checked marts, as
    BI reads them (the published file)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {t: tuple(con.execute(
            f'select count(*), sum(hash(x)::hugeint) from "{database.stem}".marts.{t} as x'
        ).fetchone()) for t in CHECKED_MARTS}
    finally:
        con.close()


def _run_statuses(env: dict) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return list(instance.get_runs(dg.RunsFilter(job_name="build_everything")))


def _status(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestration.cli", "status"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_kill_9_during_dbt_and_during_publish_then_a_run_recovers(world, tmp_path):
    env, warehouse = world["env"], world["warehouse"]
    published = warehouse.parent / "marts.duckdb"
    reference = _fingerprint(published)
    assert all(rows > 0 for rows, _ in reference.values()), reference
    stop = tmp_path / "stop"
    reader_env = {k: v for k, v in os.environ.items() if not k.startswith("CRMW_")}
    reader = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("marts_reader.py")), str(published),
         str(stop), "1500"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=reader_env)
    try:
        # 1. kill -9 while dbt builds staging and marts
        log = tmp_path / "killed_in_dbt.log"
        proc = _start_run(env, log)

        def dbt_building_marts():
            return [c for c in _children(proc.pid) if "orchestration.dbt_child" in _cmdline(c)
                    and Path(_environ(c).get("DBT_TARGET_PATH", "")).name.startswith(
                        "dbt_staging_and_marts-")]

        dbt = _wait_for(dbt_building_marts, "dbt step dbt_staging_and_marts", 600, proc, log)
        time.sleep(3)  # dbt is writing tables now
        _kill(proc, warehouse, dbt)
        wedged = _status(env)
        assert wedged.returncode == 1 and "GONE" in wedged.stdout, wedged.stdout
        killed_in_dbt = _run_statuses(env)[0]
        assert killed_in_dbt.status == dg.DagsterRunStatus.STARTED

        # 2. the next run recovers it; kill -9 it as soon as it publishes
        log = tmp_path / "killed_in_publish.log"
        proc = _start_run(env, log)

        def publishing():
            return [p for p in warehouse.parent.iterdir()
                    if p.name.startswith(".marts.duckdb.") and p.name.endswith(".tmp")]

        _wait_for(publishing, "publication", 900, proc, log)
        _kill(proc, warehouse, [])
        assert f"recovered run {killed_in_dbt.run_id} (STARTED)" in log.read_text()
        assert publishing(), "the killed publication left no temporary file to clean"

        # 3. a run completes, cleans up and publishes the same marts
        finished = subprocess.run([sys.executable, "-m", "orchestration.cli", "run", "--quiet"],
                                  env=env, capture_output=True, text=True, timeout=900)
        assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
        assert "succeeded" in finished.stdout
        assert "recovered run" in finished.stdout
        assert not publishing(), "temporary files of the killed publication are still there"
        assert not [p for p in (warehouse.parent / "parquet" / "versions").iterdir()
                    if p.name.startswith(".")]
        assert _fingerprint(published) == reference
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=120)

    summary = json.loads(out)
    print("reader:", {k: summary[k] for k in ("reads", "error_count", "versions")})
    assert summary["error_count"] == 0, summary["errors"]
    assert summary["reads"] >= 50, summary
    assert len(summary["versions"]) >= 2, "the reader never saw the new publication"

    runs = _run_statuses(env)
    recovered = [r for r in runs if r.tags.get(recovery.TAG_RECOVERED) == "true"]
    assert {r.run_id for r in recovered} >= {killed_in_dbt.run_id}
    assert len(recovered) == 2 and all(r.status == dg.DagsterRunStatus.FAILURE
                                       for r in recovered)
    assert runs[0].status == dg.DagsterRunStatus.SUCCESS
    healthy = _status(env)
    assert healthy.returncode == 0 and "OK: nothing wedged." in healthy.stdout, healthy.stdout
