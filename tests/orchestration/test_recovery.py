"""Runs whose process died: found (pid and process identity, pid reuse), marked failed with an
engine event and tags, their pool slots freed, their leftover dbt processes ended; slots of
finished runs freed; ``crm-warehouse status``; children that die with their parent.

Real processes and a real Dagster home (SQLite, the pool limits of ``ensure_dagster_home``);
the dead runs are recorded the way a killed run leaves them (status STARTED, a slot held).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._core.events import DagsterEvent, DagsterEventType

from orchestration import cli, processes, recovery
from orchestration.defs.resources import (
    WAREHOUSE_WRITER_POOL,
    WarehouseResource,
    warehouse_resource,
)
from orchestration.instance import ensure_dagster_home
from warehouse.config import REPO_ROOT

POOL = WAREHOUSE_WRITER_POOL


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMW_WAREHOUSE_PATH", str(tmp_path / "wh" / "warehouse.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return ensure_dagster_home(tmp_path / "home")


@pytest.fixture
def instance(home):
    with dg.DagsterInstance.from_config(str(home)) as inst:
        yield inst


def _dead_process() -> tuple[int, str]:
    """(pid, identity) of a process that ran and has ended."""
    proc = subprocess.Popen(["sleep", "30"])
    identity = processes.process_identity(proc.pid)
    proc.kill()
    proc.wait()
    assert identity is not None
    return proc.pid, identity


def _run(instance, tags: dict[str, str], status=dg.DagsterRunStatus.STARTED) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name="build_everything", run_id=str(uuid.uuid4()), status=status,
                        tags=tags)
    return instance.add_run(run)


def _hold_slot(instance, run_id: str, step: str = "dbt_staging_and_marts") -> None:
    status = instance.event_log_storage.claim_concurrency_slot(POOL, run_id, step)
    assert status.is_claimed, status


def _held(instance) -> list[tuple[str, str]]:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return [(s.run_id, s.step_key) for s in info.claimed_slots]


def _engine_messages(instance, run_id: str) -> list[str]:
    return [e.message for e in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
            if e.message]


def test_a_run_whose_process_died_is_failed_and_its_slot_freed(instance):
    pid, identity = _dead_process()
    dead = _run(instance, {recovery.TAG_PID: str(pid), recovery.TAG_PROCESS: identity})
    _hold_slot(instance, dead.run_id)
    live = _run(instance, recovery.process_tags())  # this test's process: alive

    done = recovery.recover_stale_runs(instance, by="a test")

    assert [r.run_id for r in done] == [dead.run_id]
    assert done[0].marked == "FAILURE" and done[0].slots_freed == 1
    run = instance.get_run_by_id(dead.run_id)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert run.tags[recovery.TAG_RECOVERED] == "true"
    assert run.tags[recovery.TAG_RECOVERED_BY] == "a test"
    assert f"pid {pid}" in run.tags[recovery.TAG_RECOVERED_REASON]
    messages = _engine_messages(instance, dead.run_id)
    assert any(m.startswith("Recovered by a test") and "is gone" in m for m in messages)
    assert _held(instance) == []
    assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED
    assert recovery.recover_stale_runs(instance, by="a test") == []  # idempotent


def test_a_reused_pid_is_not_the_run_process(instance):
    """The pid lives (it is this process) but is another process than the one recorded."""
    _, identity_of_dead = _dead_process()
    run = _run(instance, {recovery.TAG_PID: str(os.getpid()),
                          recovery.TAG_PROCESS: identity_of_dead})
    assert recovery.run_process(instance, run).alive() is False
    assert [r.run_id for r in recovery.recover_stale_runs(instance, by="t")] == [run.run_id]


def test_a_run_started_before_the_tags_existed_is_judged_by_its_run_start_event(instance):
    pid, _ = _dead_process()
    old = _run(instance, {})
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_START.value, job_name=old.job_name, pid=pid),
        run_id=old.run_id)
    _hold_slot(instance, old.run_id)
    mine = _run(instance, {})
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_START.value, job_name=mine.job_name,
                     pid=os.getpid()), run_id=mine.run_id)
    process = recovery.run_process(instance, old)
    assert (process.pid, process.source) == (pid, "event")
    done = recovery.recover_stale_runs(instance, by="t")
    assert [r.run_id for r in done] == [old.run_id]
    assert instance.get_run_by_id(mine.run_id).status == dg.DagsterRunStatus.STARTED
    assert _held(instance) == []


def test_slots_of_finished_runs_are_freed_and_canceling_runs_end_canceled(instance):
    failed = _run(instance, {}, status=dg.DagsterRunStatus.FAILURE)
    _hold_slot(instance, failed.run_id)
    pid, identity = _dead_process()
    canceling = _run(instance, {recovery.TAG_PID: str(pid), recovery.TAG_PROCESS: identity},
                     status=dg.DagsterRunStatus.CANCELING)
    done = {r.run_id: r for r in recovery.recover_stale_runs(instance, by="t")}
    assert done[failed.run_id].slots_freed == 1 and done[failed.run_id].marked is None
    assert done[canceling.run_id].marked == "CANCELED"
    assert instance.get_run_by_id(canceling.run_id).status == dg.DagsterRunStatus.CANCELED
    assert _held(instance) == []


def test_leftover_dbt_processes_of_a_dead_run_are_ended(instance, tmp_path):
    pid, identity = _dead_process()
    dead = _run(instance, {recovery.TAG_PID: str(pid), recovery.TAG_PROCESS: identity})
    target = tmp_path / "target" / f"dbt_staging_and_marts-{dead.run_id[:7]}-abc1234"
    env = {**os.environ, "DAGSTER_DBT_CLI": "true", "DBT_TARGET_PATH": str(target)}
    orphan = subprocess.Popen(["sleep", "60"], env=env)
    other = subprocess.Popen(["sleep", "60"], env={**env, "DBT_TARGET_PATH": str(
        tmp_path / "target" / "dbt_seeds-0000000-abc1234")})
    try:
        time.sleep(0.2)
        assert processes.dbt_processes_of_run(dead.run_id) == [orphan.pid]
        done = recovery.recover_stale_runs(instance, by="t")
        assert done[0].ended_processes == [orphan.pid]
        assert orphan.wait(timeout=5) is not None
        assert other.poll() is None, "a process of another run was ended"
    finally:
        for proc in (orphan, other):
            proc.kill()
            proc.wait()


def test_status_reports_a_wedged_pool_and_recover_unwedges_it(home, instance):
    pid, identity = _dead_process()
    dead = _run(instance, {recovery.TAG_PID: str(pid), recovery.TAG_PROCESS: identity,
                           "crmw/cli-invocation": "x"})
    _hold_slot(instance, dead.run_id)
    runner = CliRunner()

    wedged = runner.invoke(cli.main, ["status"])
    assert wedged.exit_code == 1, wedged.output
    out = wedged.output
    assert f"{dead.run_id}  build_everything  STARTED  pid {pid} GONE" in out
    assert f"Pool {POOL}: limit 1, 1 slot(s) held" in out
    assert f"held by run {dead.run_id} step dbt_staging_and_marts" in out
    assert "WEDGED:" in out and "Recovered runs: none" in out

    fixed = runner.invoke(cli.main, ["status", "--recover"])
    assert fixed.exit_code == 0, fixed.output
    assert f"recovered run {dead.run_id} (STARTED)" in fixed.output
    assert "Runs in progress: none" in fixed.output
    assert f"{dead.run_id}  FAILURE at " in fixed.output
    assert "OK: nothing wedged." in fixed.output
    assert runner.invoke(cli.main, ["status"]).exit_code == 0


def test_the_run_resource_tags_its_run_and_recovers_first(instance):
    """Any run using the warehouse resource (UI, schedule, sensor, CLI) recovers at start."""
    pid, identity = _dead_process()
    dead = _run(instance, {recovery.TAG_PID: str(pid), recovery.TAG_PROCESS: identity})
    _hold_slot(instance, dead.run_id)

    @dg.asset(pool=POOL)
    def needs_the_pool(warehouse: WarehouseResource) -> None:  # noqa: ARG001
        pass

    result = dg.materialize([needs_the_pool], instance=instance,
                            resources={"warehouse": warehouse_resource()})
    assert result.success
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags[recovery.TAG_PID] == str(os.getpid())
    assert tags[recovery.TAG_PROCESS] == processes.process_identity()


def test_the_sensor_and_the_schedule_recover_first(instance):
    from orchestration.defs.automation import new_export_files, nightly_build

    for evaluate in (lambda: nightly_build.evaluate_tick(
                         dg.build_schedule_context(instance=instance)),
                     lambda: new_export_files(dg.build_sensor_context(instance=instance))):
        pid, identity = _dead_process()
        dead = _run(instance, {recovery.TAG_PID: str(pid), recovery.TAG_PROCESS: identity})
        _hold_slot(instance, dead.run_id)
        evaluate()
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert _held(instance) == []


PARENT = textwrap.dedent("""
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
    print(child.pid, flush=True)
    child.wait()
""")
CHILD = ("from orchestration.processes import die_with_parent; import time; "
         "assert die_with_parent(); time.sleep(60)")


def test_a_child_that_asked_to_die_with_its_parent_dies_on_kill_9_of_the_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE,
                              text=True, cwd=REPO_ROOT)
    child_pid = int(parent.stdout.readline())
    time.sleep(1.0)  # the child has set its parent-death signal
    assert processes.is_alive(child_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while processes.is_alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes.is_alive(child_pid), "the child outlived its parent"


def test_dbt_is_started_through_the_child_module_and_still_works():
    """The resource starts ``<python> -m orchestration.dbt_child``, which runs the venv's dbt
    (the slow crash test sees these processes die with their run)."""
    from orchestration.defs.dbt.project import dbt_executable
    from orchestration.defs.dbt.resource import WarehouseDbtCliResource, dbt_launch

    launch = dbt_launch(dbt_executable())
    assert launch == {"dbt_executable": sys.executable,
                      "global_config_flags": ["-m", "orchestration.dbt_child"]}
    source = (REPO_ROOT / "orchestration" / "defs" / "dbt" / "__init__.py").read_text()
    assert "**dbt_launch(dbt_executable())" in source
    helped = subprocess.run([sys.executable, "-m", "orchestration.dbt_child", "--help"],
                            capture_output=True, text=True, cwd=REPO_ROOT / "dbt_project",
                            timeout=60)
    assert helped.returncode == 0 and "An ELT tool" in helped.stdout, helped.stderr
    resource = WarehouseDbtCliResource(project_dir=str(REPO_ROOT / "dbt_project"), **launch)
    assert resource._cli_version.major == 1  # read in process, as for the plain dbt


def test_the_dagster_internals_the_interrupt_watcher_uses_are_still_there(instance):
    """orchestration/interrupts.py reads Dagster's record of a captured SIGINT/SIGTERM and
    holds the event log's lock while it stops a waiting run."""
    from dagster._utils import interrupts

    assert callable(interrupts.check_captured_interrupt)
    assert "_received_interrupt" in vars(interrupts)
    assert hasattr(instance.event_log_storage._db_lock, "acquire")
