"""Wall time and peak memory of a child process *tree*.

Dagster and dbt start grandchildren (dbt runs as a subprocess of the Dagster step), so the
memory of the child alone would miss most of the work. Every ``interval`` seconds we read
``/proc/<pid>/status`` (VmRSS) of the child and all its descendants and keep the largest sum:
``peak_tree_rss_mb`` is what the machine had to hold at once. ``max_process_rss_mb`` is the
kernel's own per-process maximum (``ru_maxrss`` from ``wait4``: the largest single process in
the tree, exact, but never a sum); it catches a spike shorter than the sampling interval.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass
class Measurement:
    command: list[str]
    seconds: float
    peak_tree_rss_mb: float
    max_process_rss_mb: float
    returncode: int
    samples: int
    timeline: list[tuple[float, int]] | None = None  # (epoch seconds, tree RSS kB)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("timeline")
        return data

    def peak_between(self, start: float, end: float) -> float:
        """Peak tree RSS (MB) of the samples taken in [start, end] (epoch seconds); the first
        sample after ``start`` if the window was shorter than the sampling interval."""
        inside = [kb for t, kb in self.timeline or () if start <= t <= end]
        if not inside:
            inside = [kb for t, kb in self.timeline or () if t >= start][:1]
        return max(inside, default=0) / 1024


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # the command name is in parentheses and may contain spaces: parse after the last ')'
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _rss_kb(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0  # ended, or a kernel thread without VmRSS


def tree_rss_kb(root: int) -> int:
    """Sum of VmRSS (kB) over ``root`` and all its descendants, now."""
    children = _children_map()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_kb(pid)
        todo.extend(children.get(pid, ()))
    return total


def measure(command: list[str], *, env: dict[str, str] | None = None,
            cwd: str | Path | None = None, log_path: Path | None = None,
            interval: float = 0.2) -> Measurement:
    """Run ``command`` to completion; output goes to ``log_path`` (or is discarded)."""
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        timeline: list[tuple[float, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                timeline.append((time.time(), tree_rss_kb(proc.pid)))
                done.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log_path:
            out.close()
    peak = max((kb for _, kb in timeline), default=0)
    return Measurement(command=command, seconds=seconds, peak_tree_rss_mb=peak / 1024,
                       max_process_rss_mb=usage.ru_maxrss / 1024,
                       returncode=proc.returncode, samples=len(timeline), timeline=timeline)
