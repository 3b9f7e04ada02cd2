"""The memory sampler sums the whole process tree, not only the direct child."""

from __future__ import annotations

import sys
import textwrap

from bench.proctree import measure

# The child stays small and starts a grandchild that holds ~300 MB for a second.
GRANDCHILD = "import time; block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep(1.5)"  # noqa: E501
CHILD = textwrap.dedent(f"""
    import subprocess, sys
    raise SystemExit(subprocess.call([sys.executable, "-c", {GRANDCHILD!r}]))
""")


def test_tree_peak_includes_grandchildren():
    m = measure([sys.executable, "-c", CHILD], interval=0.1)
    assert m.returncode == 0
    assert m.peak_tree_rss_mb >= 300, m
    # ru_maxrss of the waited-for tree is the largest single process: the grandchild
    assert m.max_process_rss_mb >= 300, m
    assert m.seconds >= 1.5
    assert m.samples >= 5
    assert m.peak_between(m.timeline[0][0], m.timeline[-1][0]) == m.peak_tree_rss_mb


def test_failing_command_reports_its_exit_code():
    m = measure([sys.executable, "-c", "raise SystemExit(3)"])
    assert m.returncode == 3
