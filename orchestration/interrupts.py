"""Ctrl-C and SIGTERM for a run executed in this process (``crm-warehouse run``).

During a run, Dagster takes SIGINT (and SIGTERM, which it maps to SIGINT) over: inside a
step's code it raises an interrupt (dagster-dbt forwards it to dbt and the step fails); in
Dagster's own code it only records the signal and acts on it when the next step starts. The
in-process executor never looks at that record while it waits for a pool slot, so a run
waiting for ``duckdb_warehouse`` ignored Ctrl-C and SIGTERM for as long as it waited (for
ever, behind a dead run).

:class:`InterruptWatcher` is a thread that learns of every SIGINT/SIGTERM through
``signal.set_wakeup_fd`` (which Dagster's handlers leave alone). When Dagster has recorded one
and not acted on it within :data:`GRACE_SECONDS`, the run is stuck in a wait: the watcher
marks it ``CANCELED`` with an engine event saying why, frees its pool slots and claims, ends
its dbt processes if any, prints one line and exits the process (130 for SIGINT, 143 for
SIGTERM). Meanwhile the waiting main thread is kept from writing its claims back: the watcher
holds the lock of Dagster's SQLite event log storage in this process and writes through a
second instance.

The check uses ``dagster._utils.interrupts.check_captured_interrupt`` and the storage lock
``SqliteEventLogStorage._db_lock`` (Dagster is pinned exactly in pyproject.toml;
``tests/orchestration/test_recovery.py`` fails if either goes away).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from dagster import DagsterInstance
from dagster._utils.interrupts import check_captured_interrupt

from orchestration.processes import dbt_processes_of_run, end_processes
from orchestration.recovery import IN_PROGRESS

GRACE_SECONDS = 2.0
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def stop_interrupted_run(instance: DagsterInstance, run_id: str | None, signum: int,
                         where: str) -> str:
    """Mark the run CANCELED (if still in progress), free its slots, end its dbt processes;
    return the one line to print."""
    name = signal.Signals(signum).name
    if run_id is None:
        return f"crm-warehouse run: {name} received {where}; no run had started."
    run = instance.get_run_by_id(run_id)
    ended = end_processes(dbt_processes_of_run(run_id))
    message = (f"Stopped by {name} {where} (crm-warehouse run, pid {os.getpid()}); "
               "its pool slots and claims freed"
               + (f", dbt processes ended: {', '.join(map(str, ended))}" if ended else "") + ".")
    status = run.status.value if run is not None else "unknown"
    if run is not None and run.status in IN_PROGRESS:
        instance.report_engine_event(message, run)
        instance.report_run_canceled(run, message=message)
        status = "CANCELED"
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return (f"crm-warehouse run: {name} received {where}: run {run_id} stopped ({status}), "
            "pool slots freed.")


class InterruptWatcher(threading.Thread):
    """See module. ``find_run_id`` returns the run's id once it exists (None before);
    ``echo`` prints the final line. Start it from the main thread (``set_wakeup_fd``)."""

    def __init__(self, instance: DagsterInstance, find_run_id: Callable[[], str | None],
                 echo: Callable[[str], None], grace_seconds: float = GRACE_SECONDS,
                 exit: Callable[[int], None] = os._exit) -> None:
        super().__init__(name="crmw-interrupt-watcher", daemon=True)
        self._instance = instance
        self._find_run_id = find_run_id
        self._echo = echo
        self._grace = grace_seconds
        self._exit = exit
        self._stopping = threading.Event()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd: int | None = None
        self.received: int | None = None  # the last SIGINT/SIGTERM seen

    def start(self) -> None:
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        super().start()

    def close(self) -> None:
        """Stop watching; restore the previous wakeup fd (call from the main thread)."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout=2)
        for signum in self._signals(0):  # one the thread had no time to read
            self.received = signum
        if self._previous_fd is not None:
            signal.set_wakeup_fd(self._previous_fd)
            self._previous_fd = None
        self._reader.close()
        self._writer.close()

    def _signals(self, timeout: float) -> list[int]:
        ready, _, _ = select.select([self._reader], [], [], timeout)
        if not ready:
            return []
        try:
            return [b for b in self._reader.recv(64)
                    if b in (signal.SIGINT, signal.SIGTERM)]
        except (BlockingIOError, OSError):
            return []

    def run(self) -> None:
        pending_since: float | None = None
        while not self._stopping.is_set():
            for signum in self._signals(0.25):
                self.received = signum
                pending_since = pending_since or time.monotonic()
            if pending_since is None:
                continue
            if not check_captured_interrupt():
                # Dagster acted on it (a step raised) or it arrived outside the run: the main
                # thread handles it.
                if time.monotonic() - pending_since > self._grace:
                    pending_since = None
                continue
            if time.monotonic() - pending_since < self._grace or self._stopping.is_set():
                continue
            received = self.received or signal.SIGINT
            run_id = self._find_run_id()
            # The main thread still polls for a slot and would put its claims back after they
            # are freed: block its writes to the event log (Dagster's SQLite storage writes
            # under this lock), stop the run through a second instance, exit holding the lock.
            lock = getattr(self._instance.event_log_storage, "_db_lock", None)
            if lock is not None:
                lock.acquire(timeout=30)
            with DagsterInstance.from_ref(self._instance.get_ref()) as other:
                line = stop_interrupted_run(other, run_id, received,
                                            "while the run waited (for a pool slot)")
            self._echo(line)
            sys.stdout.flush()
            sys.stderr.flush()
            self._exit(EXIT_CODES.get(received, 130))
            return
