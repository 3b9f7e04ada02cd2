"""Runs that died: found, marked failed, their pool slots freed, their leftovers ended.

A run killed with ``kill -9`` (or by the OOM killer, or a reboot) never reports its end: it
stays ``STARTED`` in the Dagster home and keeps its slot in the ``duckdb_warehouse`` pool,
and every later run waits for that slot for ever. Marking the run failed does not free the
slot (only ``free_concurrency_slots_for_run`` does), and Dagster's own run monitoring needs
the daemon and a run launcher that can check its workers (the default one cannot), so it
does not help runs started by ``crm-warehouse run``.

So every start of a run recovers first (:func:`recover_stale_runs`): ``crm-warehouse run``
before it starts its run, the ``warehouse`` resource when a run from anywhere (the UI, the
schedule, the sensor) initializes it, the sensor ``new_export_files`` on every tick and the
schedule ``nightly_build`` on every evaluation (both in the daemon, so a run queued behind a
dead one in the UI gets going within a sensor interval). A run in progress (``STARTING``,
``STARTED``, ``CANCELING``) whose process is gone is

1. rid of its leftover processes (dbt processes whose environment names the run;
   ``orchestration/processes.py``; normally none: dbt dies with its parent),
2. given an engine event saying what happened (visible on the run's page in the UI) and the
   tags ``crmw/recovered*``,
3. marked ``FAILURE`` (``CANCELED`` if it was being canceled),
4. freed of its pool slots and pending claims.

Slots still held by runs that are finished (or deleted) are freed too.

How a run's process is known: the CLI and the ``warehouse`` resource tag the run with its pid
and process identity (``crmw/pid``, ``crmw/process``: boot id and start time, so a reused pid
or a reboot is not mistaken for the run, and ``crmw/host``); for a run without these tags
(started before this existed), the pid of its ``RUN_START`` event, with the event's time as
the latest the process may have started. A run whose process cannot be judged (another host)
is left alone; a run ``STARTING`` for more than :data:`START_TIMEOUT_SECONDS` with no process
at all is failed as never started.

``crm-warehouse status`` prints :func:`status_report`.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.events import EngineEventData

from orchestration.defs.resources import WAREHOUSE_WRITER_POOL
from orchestration.processes import (
    dbt_processes_of_run,
    end_processes,
    is_alive,
    process_identity,
)

TAG_PID = "crmw/pid"
TAG_PROCESS = "crmw/process"
TAG_HOST = "crmw/host"
TAG_RECOVERED = "crmw/recovered"
TAG_RECOVERED_AT = "crmw/recovered-at"
TAG_RECOVERED_BY = "crmw/recovered-by"
TAG_RECOVERED_REASON = "crmw/recovered-reason"

IN_PROGRESS = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)
#: Dagster's default start timeout of run monitoring: a run STARTING this long without any
#: process is failed.
START_TIMEOUT_SECONDS = 180
LOCK_FILE = ".crmw-recovery.lock"


def process_tags(pid: int | None = None) -> dict[str, str]:
    """The tags that name the process running a run (this one by default)."""
    pid = os.getpid() if pid is None else pid
    tags = {TAG_PID: str(pid), TAG_HOST: socket.gethostname()}
    identity = process_identity(pid)
    if identity:
        tags[TAG_PROCESS] = identity
    return tags


def tag_current_process(instance: DagsterInstance, run: dg.DagsterRun) -> None:
    """Tag ``run`` with this process, unless it is tagged already (the CLI tags its runs when
    it creates them)."""
    if TAG_PID not in run.tags:
        instance.add_run_tags(run.run_id, process_tags())


@dataclass(frozen=True)
class RunProcess:
    """The process a run runs in, as far as it is known."""

    pid: int | None
    identity: str | None = None
    host: str | None = None
    started_before: float | None = None
    source: str = "unknown"  # "tags", "event" or "unknown"

    def alive(self) -> bool | None:
        """True/False, or None when it cannot be told (no pid, another host)."""
        if self.pid is None or (self.host and self.host != socket.gethostname()):
            return None
        return is_alive(self.pid, self.identity, self.started_before)

    def describe(self) -> str:
        if self.pid is None:
            return "no process known"
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"pid {self.pid}{where}"


def run_process(instance: DagsterInstance, run: dg.DagsterRun) -> RunProcess:
    tags = run.tags
    if tags.get(TAG_PID, "").isdigit():
        return RunProcess(int(tags[TAG_PID]), tags.get(TAG_PROCESS), tags.get(TAG_HOST),
                          source="tags")
    page = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START,
                                        limit=1)
    for record in page.records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.pid:
            return RunProcess(event.pid, started_before=record.timestamp, source="event")
    return RunProcess(None)


@dataclass(frozen=True)
class RunState:
    run: dg.DagsterRun
    process: RunProcess
    alive: bool | None
    updated_at: float  # epoch seconds of the run record's last update

    @property
    def stale_reason(self) -> str | None:
        """Why this run is dead, or None while it may be alive."""
        if self.alive is False:
            return f"its process ({self.process.describe()}) is gone"
        if (self.alive is None and self.process.pid is None
                and self.run.status == DagsterRunStatus.STARTING
                and time.time() - self.updated_at > START_TIMEOUT_SECONDS):
            return f"no process started it within {START_TIMEOUT_SECONDS} s"
        return None


def runs_in_progress(instance: DagsterInstance) -> list[RunState]:
    """Every run STARTING, STARTED or CANCELING, with its process and whether it lives."""
    states = []
    for record in instance.get_run_records(RunsFilter(statuses=list(IN_PROGRESS))):
        process = run_process(instance, record.dagster_run)
        states.append(RunState(record.dagster_run, process, process.alive(),
                               record.update_timestamp.timestamp()))
    return states


@dataclass(frozen=True)
class PoolEntry:
    """A slot held, or a claim waiting, in a concurrency pool."""

    pool: str
    run_id: str
    step_key: str
    holds_slot: bool
    since: datetime | None = None


@dataclass(frozen=True)
class PoolState:
    pool: str
    limit: int | None
    entries: tuple[PoolEntry, ...]


def pool_states(instance: DagsterInstance) -> list[PoolState]:
    """Every concurrency pool of the instance (the warehouse pool first): its limit, the
    slots held and the steps waiting."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    keys = sorted(storage.get_concurrency_keys(), key=lambda k: (k != WAREHOUSE_WRITER_POOL, k))
    states = []
    for key in keys:
        info = storage.get_concurrency_info(key)
        entries = [PoolEntry(key, s.run_id, s.step_key, True) for s in info.claimed_slots]
        entries += [PoolEntry(key, p.run_id, p.step_key, False, p.enqueued_timestamp)
                    for p in info.pending_steps if p.assigned_timestamp is None]
        states.append(PoolState(key, info.limit, tuple(entries)))
    return states


@dataclass
class Recovery:
    """What recovery did for one run."""

    run_id: str
    status_before: str  # the run's status, or "missing"
    reason: str
    marked: str | None = None  # "FAILURE" / "CANCELED" when the run was marked
    slots_freed: int = 0
    ended_processes: list[int] = field(default_factory=list)

    def line(self) -> str:
        done = [f"marked {self.marked}"] if self.marked else []
        done.append(f"{self.slots_freed} pool slot(s) and claim(s) freed")
        if self.ended_processes:
            done.append("leftover process(es) ended: "
                        + ", ".join(str(p) for p in self.ended_processes))
        return (f"recovered run {self.run_id} ({self.status_before}): {self.reason}; "
                + ", ".join(done))


@contextmanager
def _recovery_lock(instance: DagsterInstance) -> Iterator[None]:
    """One recovery at a time per Dagster home (the CLI, the sensor and a run's resource may
    all try at once)."""
    root = getattr(instance, "root_directory", None)
    if not root or not Path(root).is_dir():
        yield
        return
    with open(Path(root) / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _held_by_run(instance: DagsterInstance) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pool in pool_states(instance):
        for entry in pool.entries:
            counts[entry.run_id] = counts.get(entry.run_id, 0) + 1
    return counts


def _recover_run(instance: DagsterInstance, state: RunState, reason: str, by: str,
                 held: int) -> Recovery:
    run = state.run
    recovery = Recovery(run.run_id, run.status.value, reason)
    recovery.ended_processes = end_processes(dbt_processes_of_run(run.run_id))
    marked = (DagsterRunStatus.CANCELED if run.status == DagsterRunStatus.CANCELING
              else DagsterRunStatus.FAILURE)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    message = (f"Recovered by {by} at {now}: this run was {run.status.value} but {reason} "
               f"(killed, out of memory or a reboot). Marked {marked.value}; its {held} pool "
               f"slot(s) and claim(s) freed; leftover processes ended: "
               f"{', '.join(map(str, recovery.ended_processes)) or 'none'}.")
    instance.report_engine_event(message, run, EngineEventData(metadata={
        "pid": dg.MetadataValue.text(str(state.process.pid)),
        "process source": state.process.source,
        "recovered by": by,
        "slots freed": held,
        "processes ended": dg.MetadataValue.text(
            ", ".join(map(str, recovery.ended_processes)) or "none"),
    }))
    instance.add_run_tags(run.run_id, {TAG_RECOVERED: "true", TAG_RECOVERED_AT: now,
                                       TAG_RECOVERED_BY: by, TAG_RECOVERED_REASON: reason})
    run = instance.get_run_by_id(run.run_id) or run
    if marked == DagsterRunStatus.CANCELED:
        instance.report_run_canceled(run, message=message)
    else:
        instance.report_run_failed(run, message=message)
    recovery.marked = marked.value
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    recovery.slots_freed = held
    return recovery


def recover_stale_runs(instance: DagsterInstance, *, by: str,
                       log: Callable[[str], None] | None = None) -> list[Recovery]:
    """Recover every run in progress whose process is gone, and free the pool slots of runs
    that are not in progress (see module). Returns what was done; ``log`` gets one line per
    recovery. Safe to call at any time and from several processes at once."""
    recoveries: list[Recovery] = []
    with _recovery_lock(instance):
        held = _held_by_run(instance)
        for state in runs_in_progress(instance):
            reason = state.stale_reason
            if reason is None:
                continue
            current = instance.get_run_by_id(state.run.run_id)
            if current is None or current.status not in IN_PROGRESS:
                continue  # finished meanwhile
            recoveries.append(_recover_run(instance, state, reason, by,
                                           held.pop(state.run.run_id, 0)))
        for run_id, count in held.items():
            run = instance.get_run_by_id(run_id)
            if run is not None and run.status in IN_PROGRESS:
                continue  # a live run's slots
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            status = run.status.value if run is not None else "missing"
            recoveries.append(Recovery(run_id, status, "the run is not in progress but still "
                                       "held pool slots", slots_freed=count))
    if log:
        for recovery in recoveries:
            log(recovery.line())
    return recoveries


def recover_quietly(instance: DagsterInstance | None, *, by: str,
                    run: dg.DagsterRun | None = None,
                    log: Callable[[str], None] | None = None,
                    warn: Callable[[str], None] | None = None) -> list[Recovery]:
    """:func:`recover_stale_runs` for the places where recovery must never stop the caller
    (a run's resource, the sensor, the schedule): a failure is reported to ``warn``. With
    ``run`` (the run starting in this process), tags it with this process first."""
    if instance is None:
        return []
    try:
        if run is not None:
            tag_current_process(instance, run)
        return recover_stale_runs(instance, by=by, log=log)
    except Exception as exc:  # recovery is best effort here; the CLI and status report it
        if warn:
            warn(f"stale-run recovery failed: {type(exc).__name__}: {exc}")
        return []


def recently_recovered(instance: DagsterInstance, limit: int = 5) -> list[dg.DagsterRun]:
    return list(instance.get_runs(RunsFilter(tags={TAG_RECOVERED: "true"}), limit=limit))


@dataclass
class StatusReport:
    runs: list[RunState]
    pools: list[PoolState]
    recovered: list[dg.DagsterRun]
    problems: list[str]

    @property
    def wedged(self) -> bool:
        return bool(self.problems)

    def text(self) -> str:
        lines = ["Runs in progress:" if self.runs else "Runs in progress: none"]
        for state in self.runs:
            alive = {True: "alive", False: "GONE", None: "unknown"}[state.alive]
            started_by = state.run.tags.get("crmw/cli-invocation") and "crm-warehouse run"
            lines.append(f"  {state.run.run_id}  {state.run.job_name}  {state.run.status.value}"
                         f"  {state.process.describe()} {alive}"
                         + (f"  (started by {started_by})" if started_by else ""))
        if not self.pools:
            lines.append("Pools: none in use")
        runs = {s.run.run_id: s for s in self.runs}
        for pool in self.pools:
            held = [e for e in pool.entries if e.holds_slot]
            waiting = [e for e in pool.entries if not e.holds_slot]
            lines.append(f"Pool {pool.pool}: limit {pool.limit}, {len(held)} slot(s) held, "
                         f"{len(waiting)} step(s) waiting")
            for entry in held:
                lines.append(f"  held by run {entry.run_id} step {entry.step_key} "
                             f"({_owner(runs.get(entry.run_id))})")
            by_run: dict[str, list[PoolEntry]] = {}
            for entry in waiting:
                by_run.setdefault(entry.run_id, []).append(entry)
            for run_id, entries in by_run.items():
                since = min((e.since for e in entries if e.since), default=None)
                steps = ", ".join(e.step_key for e in entries[:3])
                more = f", ... ({len(entries)} steps)" if len(entries) > 3 else ""
                lines.append(f"  waiting: run {run_id} step(s) {steps}{more}"
                             + (f" since {since:%Y-%m-%d %H:%M:%S}" if since else "")
                             + f" ({_owner(runs.get(run_id))})")
        if self.recovered:
            lines.append("Recovered runs (latest first):")
            for run in self.recovered:
                tags = run.tags
                lines.append(f"  {run.run_id}  {run.status.value} at "
                             f"{tags.get(TAG_RECOVERED_AT, '?')} by "
                             f"{tags.get(TAG_RECOVERED_BY, '?')}: "
                             f"{tags.get(TAG_RECOVERED_REASON, '?')}")
        else:
            lines.append("Recovered runs: none")
        if self.problems:
            lines.append("WEDGED:")
            lines.extend(f"  {p}" for p in self.problems)
            lines.append("Recover with `crm-warehouse status --recover` (any new run, the "
                         "sensor and the schedule also recover first).")
        else:
            lines.append("OK: nothing wedged.")
        return "\n".join(lines)


def _owner(state: RunState | None) -> str:
    if state is None:
        return "run not in progress"
    alive = {True: "alive", False: "GONE", None: "unknown"}[state.alive]
    return f"run {state.run.status.value}, process {alive}"


def status_report(instance: DagsterInstance) -> StatusReport:
    runs = runs_in_progress(instance)
    pools = pool_states(instance)
    problems = [f"run {s.run.run_id} is {s.run.status.value} but {s.stale_reason}"
                for s in runs if s.stale_reason]
    in_progress = {s.run.run_id: s for s in runs}
    for pool in pools:
        for entry in pool.entries:
            state = in_progress.get(entry.run_id)
            if state is None:
                problems.append(f"pool {pool.pool}: run {entry.run_id} (not in progress) "
                                f"{'holds a slot' if entry.holds_slot else 'has a claim'} "
                                f"for step {entry.step_key}")
            elif state.stale_reason and entry.holds_slot:
                problems.append(f"pool {pool.pool}: the slot of step {entry.step_key} is held "
                                f"by dead run {entry.run_id}")
    return StatusReport(runs, pools, recently_recovered(instance), problems)
