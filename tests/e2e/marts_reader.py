"""A BI reader in its own process: opens the published marts.duckdb read-only in a loop while
runs are killed and restarted (tests/e2e/test_crash_recovery.py). Every read must see one
complete publication: one manifest version, every manifest table with its manifest row
count. Prints a JSON summary when the stop file appears."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb


def read_once(database: Path) -> str:
    con = duckdb.connect(str(database), read_only=True)
    catalog = database.stem
    try:
        manifest = con.execute(
            f'select version, table_name, row_count from "{catalog}".publication.manifest'
        ).fetchall()
        versions = {v for v, _, _ in manifest}
        if len(versions) != 1:
            raise AssertionError(f"manifest mixes versions {sorted(versions)}")
        for _, table, rows in manifest:
            schema, name = table.split(".")
            n = con.execute(f'select count(*) from "{catalog}"."{schema}"."{name}"').fetchone()[0]
            if n != rows:
                raise AssertionError(f"{table}: {n} rows, the manifest says {rows}")
        return versions.pop()
    finally:
        con.close()


def main(database: Path, stop_file: Path, max_seconds: float) -> None:
    reads, errors, versions = 0, [], []
    deadline = time.monotonic() + max_seconds
    while not stop_file.exists() and time.monotonic() < deadline:
        try:
            version = read_once(database)
            if not versions or versions[-1] != version:
                versions.append(version)
        except Exception as exc:  # every failure is reported, none is retried away
            errors.append(f"{type(exc).__name__}: {exc}")
        reads += 1
        time.sleep(0.2)  # leave the CPU to the runs
    print(json.dumps({"reads": reads, "errors": errors[:20], "error_count": len(errors),
                      "versions": versions}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
