"""Process lifetimes: is a recorded process still the one that ran, children that die with
their parent, and the leftovers of a dead run.

* **Identity, not just a pid.** A pid is reused after its process ends (and always after a
  reboot), so a run records its process as ``<boot id>:<start time in clock ticks>``
  (``/proc/sys/kernel/random/boot_id`` and field 22 of ``/proc/<pid>/stat``):
  :func:`is_alive` is true only for that very process. A zombie (killed, not yet reaped by its
  parent) counts as gone.
* **Children die with their parent.** :func:`die_with_parent` asks Linux for ``SIGKILL`` when
  the parent process ends (``prctl(PR_SET_PDEATHSIG)``), whatever way it ends (``kill -9``,
  the OOM killer). ``orchestration/dbt_child.py`` calls it before it runs dbt, so no dbt
  process outlives the run that started it.
* **Leftovers of a dead run**: :func:`dbt_processes_of_run` finds dbt processes that
  dagster-dbt started for a run (their environment names the run in ``DBT_TARGET_PATH``);
  :func:`end_processes` stops them (SIGTERM, then SIGKILL).

Linux only where it must be (``/proc``, ``prctl``); elsewhere liveness falls back to
``os.kill(pid, 0)`` and leftovers are not searched.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
PR_SET_PDEATHSIG = 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def boot_id() -> str | None:
    """This boot's id: a process recorded before a reboot is gone, whatever its pid."""
    value = _read(PROC / "sys" / "kernel" / "random" / "boot_id")
    return value.strip() if value else None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/<pid>/stat`` (after the command name, which may hold spaces)."""
    stat = _read(PROC / str(pid) / "stat")
    if not stat or ")" not in stat:
        return None
    return stat.rsplit(")", 1)[1].split()


def process_identity(pid: int | None = None) -> str | None:
    """``<boot id>:<start ticks>`` of a running process (this one by default), or None."""
    fields = _stat_fields(os.getpid() if pid is None else pid)
    boot = boot_id()
    if not fields or not boot:
        return None
    return f"{boot}:{fields[19]}"  # field 22, starttime


def process_started_at(pid: int) -> float | None:
    """When the process started (epoch seconds), from ``/proc``; None if unknown."""
    fields = _stat_fields(pid)
    stat = _read(PROC / "stat")
    if not fields or not stat:
        return None
    btime = next((int(line.split()[1]) for line in stat.splitlines()
                  if line.startswith("btime ")), None)
    if btime is None:
        return None
    return btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def is_alive(pid: int, identity: str | None = None, started_before: float | None = None
             ) -> bool:
    """True when process ``pid`` runs and is the one meant: same ``identity``
    (:func:`process_identity`), or, without one, started no later than ``started_before``
    (epoch seconds; a process that started after the run's first event reuses its pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    fields = _stat_fields(pid)
    if fields is None:
        return not PROC.exists()  # no /proc: os.kill is all there is
    if fields[0] in ("Z", "X"):  # zombie or dead: ended, only not reaped yet
        return False
    if identity is not None:
        return process_identity(pid) == identity
    if started_before is not None:
        started = process_started_at(pid)
        return started is None or started <= started_before + 1.0
    return True


def die_with_parent() -> bool:
    """Ask the kernel to SIGKILL this process when its parent ends (Linux). Returns whether it
    is set. Call it first thing in a child process; :mod:`orchestration.dbt_child` does."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _pids() -> list[int]:
    if not PROC.exists():
        return []
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def dbt_processes_of_run(run_id: str) -> list[int]:
    """Live dbt processes dagster-dbt started for run ``run_id``, found by their environment:
    ``DAGSTER_DBT_CLI=true`` and a ``DBT_TARGET_PATH`` named ``<step>-<run id[:7]>-<uuid>``
    (dagster-dbt's unique target folder per invocation)."""
    marker = f"-{run_id[:7]}-"
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        env = _environ(pid)
        if env.get("DAGSTER_DBT_CLI") != "true":
            continue
        if marker in Path(env.get("DBT_TARGET_PATH", "")).name and is_alive(pid):
            found.append(pid)
    return sorted(found)


def end_processes(pids: Iterable[int], grace_seconds: float = 3.0) -> list[int]:
    """SIGTERM each process, SIGKILL those still there after ``grace_seconds``; returns the
    pids that were signalled."""
    signalled = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            signalled.append(pid)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + grace_seconds
    remaining = list(signalled)
    while remaining and time.monotonic() < deadline:
        remaining = [pid for pid in remaining if is_alive(pid)]
        if remaining:
            time.sleep(0.1)
    for pid in remaining:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return signalled
