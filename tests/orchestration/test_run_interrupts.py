"""A `crm-warehouse run` waiting for the warehouse pool (held by another, live run) stops on
SIGTERM and on Ctrl-C (SIGINT): its run CANCELED, its claims freed, one line, exit 143/130,
and the other run's slot left alone. Real CLI processes on a real Dagster home."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import dagster as dg
import pytest

from orchestration import recovery
from orchestration.defs.resources import WAREHOUSE_WRITER_POOL as POOL
from orchestration.instance import ensure_dagster_home
from warehouse.config import REPO_ROOT

pytestmark = pytest.mark.slow  # two CLI starts, each loading the Dagster definitions


def _waiting_run(instance, holder_run_id: str) -> str | None:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    waiting = {p.run_id for p in info.pending_steps
               if p.assigned_timestamp is None and p.run_id != holder_run_id}
    return next(iter(waiting), None)


def test_a_run_waiting_for_the_pool_stops_on_sigterm_and_on_ctrl_c(tmp_path):
    env = {**os.environ,
           "CRMW_WAREHOUSE_PATH": str(tmp_path / "wh" / "warehouse.duckdb"),
           "CRMW_SOURCES_DIR": str(tmp_path / "sources"),
           "DAGSTER_HOME": str(tmp_path / "home"),
           "CRMW_PII_KEY_FILE": str(tmp_path / "keys" / "pii.key"),
           "CRMW_PSEUDONYM_KEY_FILE": str(tmp_path / "keys" / "pseudonym.key")}
    home = ensure_dagster_home(tmp_path / "home")
    holder = subprocess.Popen(["sleep", "600"])  # the live run's process
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            held = instance.add_run(dg.DagsterRun(
                job_name="build_everything", run_id=str(uuid.uuid4()),
                status=dg.DagsterRunStatus.STARTED, tags=recovery.process_tags(holder.pid)))
            assert instance.event_log_storage.claim_concurrency_slot(
                POOL, held.run_id, "dbt_staging_and_marts").is_claimed
            for signum, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
                proc = subprocess.Popen(
                    [sys.executable, "-m", "orchestration.cli", "run", "--quiet"], env=env,
                    cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                deadline = time.monotonic() + 300
                while (run_id := _waiting_run(instance, held.run_id)) is None:
                    assert proc.poll() is None, proc.communicate()
                    assert time.monotonic() < deadline, "the run never waited for the pool"
                    time.sleep(0.2)
                time.sleep(1.0)
                sent = time.monotonic()
                proc.send_signal(signum)
                out, err = proc.communicate(timeout=30)
                assert proc.returncode == code, out + err
                assert time.monotonic() - sent < 10
                name = signal.Signals(signum).name
                assert (f"crm-warehouse run: {name} received while the run waited (for a pool "
                        f"slot): run {run_id} stopped (CANCELED), pool slots freed.") in err
                assert f"its slot is held by run {held.run_id}" in out
                assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
                info = instance.event_log_storage.get_concurrency_info(POOL)
                assert [s.run_id for s in info.claimed_slots] == [held.run_id]
                assert {p.run_id for p in info.pending_steps} <= {held.run_id}
            assert instance.get_run_by_id(held.run_id).status == dg.DagsterRunStatus.STARTED
    finally:
        holder.kill()
        holder.wait()
