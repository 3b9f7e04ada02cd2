"""Measure one suite's validation time and peak memory on a warehouse (read-only).

    python -m expectations.measure raw_ecommerce.events [--warehouse PATH] [--chunk-rows N]

Validates the whole table (ignoring the incremental batch filter, the worst case), writes the
Data Docs into a temporary folder and nothing into the warehouse, and prints rows, chunks,
seconds and the process's peak resident memory. Run one measurement per process: peak RSS
never goes down.
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


def measure(warehouse: Path, suite_name: str, chunk_rows: int | None = None) -> dict:
    suite = dataclasses.replace(load_suite(SUITES_DIR / f"{suite_name}.yml"),
                                incremental_column=None)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    con = connect(warehouse, read_only=True)
    try:
        rows = con.execute(f"select count(*) from {suite.name}").fetchone()[0]
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            run = validate_suite(con, suite, run_id="measure", gx_dir=Path(tmp) / "gx",
                                 docs_dir=Path(tmp) / "docs", chunk_rows=chunk_rows)
            seconds = time.perf_counter() - started
    finally:
        con.close()
    return {
        "suite": suite.name, "rows": rows, "rows_validated": run.rows_validated,
        "chunks": run.chunks, "expectations": len(run.outcomes),
        "failed": [o.spec.id for o in run.outcomes if not o.success],
        "seconds": round(seconds, 2),
        "peak_rss_mb_before": round(rss_before),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite")
    parser.add_argument("--warehouse", type=Path, default=None)
    parser.add_argument("--chunk-rows", type=int, default=None)
    args = parser.parse_args()
    result = measure(args.warehouse or settings().warehouse_path, args.suite, args.chunk_rows)
    for key, value in result.items():
        print(f"{key:20} {value}")


if __name__ == "__main__":
    main()
