"""Time ``extract()`` of every export table into a fresh scratch warehouse, then a re-run.

    python -m bench.extract_exports SOURCES_DIR SCRATCH_WAREHOUSE.duckdb

SOURCES_DIR is what ``crm-warehouse simulate --out`` writes. The scratch warehouse's folder
is deleted first. Prints wall and process CPU seconds per table (CPU includes DuckDB's
threads; steadier than wall time on a shared machine), the load average and the peak RSS.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    sources, warehouse = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    if warehouse.parent.exists():
        shutil.rmtree(warehouse.parent)
    warehouse.parent.mkdir(parents=True)
    os.environ["CRMW_SOURCES_DIR"] = str(sources)
    os.environ["CRMW_WAREHOUSE_PATH"] = str(warehouse)

    from contracts.sources import tables_of
    from warehouse.config import settings
    from warehouse.extract import extract

    cfg = settings()
    for label in ("first", "rerun"):
        wall = time.perf_counter()
        cpu = time.process_time()
        for table in tables_of("ecommerce") + tables_of("service_desk"):
            t0, c0 = time.perf_counter(), time.process_time()
            r = extract(table, warehouse_path=warehouse, cfg=cfg)
            print(f"{label} {table.system}.{table.name}: {time.perf_counter() - t0:.2f}s "
                  f"cpu={time.process_time() - c0:.2f}s files={len(r.files_loaded)} "
                  f"rows={r.rows_loaded} quarantined={r.rows_quarantined} "
                  f"skipped={len(r.files_skipped)}", flush=True)
        print(f"{label} TOTAL {time.perf_counter() - wall:.2f}s "
              f"cpu={time.process_time() - cpu:.2f}s load={os.getloadavg()[0]:.1f}", flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
