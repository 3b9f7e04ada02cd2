"""Measure suites' validation time and peak memory on a warehouse (read-only).

    python -m expectations.measure raw_ecommerce.events [--warehouse PATH] [--chunk-rows N]
                                                        [--repeat N]
    python -m expectations.measure raw [--warehouse PATH]      # the 14 raw suites, in turn

Validates whole tables (ignoring the incremental batch filter, the worst case), writes the
Data Docs into a temporary folder and nothing into the warehouse, and prints rows, chunks,
seconds (wall and CPU) and the process's peak resident memory. Importing GX is timed apart
(once per process). The first validation opens a new GX project; ``--repeat`` validates again
in the same process, which is what a suite costs in a pipeline run once the project is open.
Several suites (or ``raw`` / ``all``) run one after the other in one process, as the Dagster
checks of one run do. Run one measurement per process: peak RSS never goes down.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import tempfile
import time
from pathlib import Path

from expectations.runner import validate_suite
from expectations.suite_files import SUITES_DIR, load_suite
from warehouse.config import settings
from warehouse.connection import connect


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _suite_names(names: list[str]) -> list[str]:
    files = sorted(p.stem for p in SUITES_DIR.glob("*.yml"))
    out = []
    for name in names:
        if name in ("raw", "all"):
            out += [f for f in files if name == "all" or f.startswith("raw_")]
        else:
            out.append(name)
    return out


def measure(warehouse: Path, suite_name: str | list[str], chunk_rows: int | None = None,
            repeat: int = 1) -> dict:
    started = time.perf_counter()
    import great_expectations  # noqa: F401 - timed apart: once per process

    import_seconds = time.perf_counter() - started
    names = _suite_names([suite_name] if isinstance(suite_name, str) else list(suite_name))
    suites = [dataclasses.replace(load_suite(SUITES_DIR / f"{n}.yml"), incremental_column=None)
              for n in names]
    rss_before = _peak_mb()
    con = connect(warehouse, read_only=True)
    per_suite = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for suite in suites:
                seconds, cpu = [], []
                for _ in range(max(1, repeat)):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    run = validate_suite(con, suite, run_id="measure", gx_dir=Path(tmp) / "gx",
                                         docs_dir=Path(tmp) / "docs", chunk_rows=chunk_rows)
                    seconds.append(round(time.perf_counter() - started, 2))
                    cpu.append(round(time.process_time() - cpu_started, 2))
                per_suite.append({
                    "suite": suite.name, "rows_validated": run.rows_validated,
                    "chunks": run.chunks, "expectations": len(run.outcomes),
                    "failed": [o.spec.id for o in run.outcomes if not o.success],
                    "seconds": seconds[0] if len(seconds) == 1 else seconds,
                    "cpu_seconds": cpu[0] if len(cpu) == 1 else cpu,
                })
    finally:
        con.close()
    totals = {
        "gx_import_seconds": round(import_seconds, 2),
        "peak_rss_mb_before": rss_before,
        "peak_rss_mb": _peak_mb(),
    }
    if len(per_suite) == 1:
        return {**per_suite[0], **totals}
    first = [s["seconds"][0] if isinstance(s["seconds"], list) else s["seconds"]
             for s in per_suite]
    first_cpu = [s["cpu_seconds"][0] if isinstance(s["cpu_seconds"], list)
                 else s["cpu_seconds"] for s in per_suite]
    return {"suites": per_suite, "total_seconds": round(sum(first), 2),
            "total_cpu_seconds": round(sum(first_cpu), 2), **totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="+", help="suite name(s), or raw / all")
    parser.add_argument("--warehouse", type=Path, default=None)
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1,
                        help="validations of each suite; the first opens the GX project")
    args = parser.parse_args()
    result = measure(args.warehouse or settings().warehouse_path, args.suite, args.chunk_rows,
                     args.repeat)
    for s in result.pop("suites", []):
        print(f"{s['suite']:30} rows {s['rows_validated']:>9}  chunks {s['chunks']:>3}  "
              f"seconds {s['seconds']}  cpu {s['cpu_seconds']}  failed {s['failed']}")
    for key, value in result.items():
        print(f"{key:20} {value}")


if __name__ == "__main__":
    main()
