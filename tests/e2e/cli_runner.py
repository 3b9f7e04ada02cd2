"""``crm-warehouse <args>`` in a subprocess, as a user runs it: shared by every e2e test."""

from __future__ import annotations

import subprocess
import sys


def run_cli(env: dict, *args: str, expect: int = 0,
            timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the CLI with ``env``; fail the test unless it exits with ``expect``."""
    proc = subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == expect, (f"crm-warehouse {' '.join(args)} exited "
                                       f"{proc.returncode}:\n{proc.stdout[-4000:]}\n"
                                       f"{proc.stderr[-6000:]}")
    return proc
