"""A BI reader in its own process: opens marts.duckdb read-only in a loop, checks each read.

Run by tests/publish/test_publish_concurrency.py while the pipeline builds and publishes.
Every read must see exactly one complete version: one manifest version, every manifest
table present with its manifest row count, and every toy table built by the same build
(one ``build_no`` across all of them). Prints a JSON summary on exit.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb


def read_once(database: Path) -> tuple[str, int]:
    con = duckdb.connect(str(database), read_only=True)
    catalog = database.stem  # "marts": also a schema name, so names are catalog-qualified
    try:
        manifest = con.execute(
            f'select version, table_name, row_count from "{catalog}".publication.manifest'
        ).fetchall()
        versions = {v for v, _, _ in manifest}
        if len(versions) != 1:
            raise AssertionError(f"manifest mixes versions {sorted(versions)}")
        builds = set()
        for _, table, rows in manifest:
            schema, name = table.split(".")
            n, distinct, build = con.execute(
                f"select count(*), count(distinct build_no), min(build_no) "
                f'from "{catalog}"."{schema}"."{name}"'
            ).fetchone()
            if n != rows or distinct != 1:
                raise AssertionError(f"{table}: {n} rows (manifest {rows}), {distinct} builds")
            builds.add(build)
        if len(builds) != 1:
            raise AssertionError(f"tables from different builds {sorted(builds)}")
        return versions.pop(), builds.pop()
    finally:
        con.close()


def main(database: Path, stop_file: Path, max_seconds: float) -> None:
    reads, errors, versions, builds = 0, [], set(), set()
    deadline = time.monotonic() + max_seconds
    while not stop_file.exists() and time.monotonic() < deadline:
        if not database.exists():
            time.sleep(0.01)
            continue
        try:
            version, build = read_once(database)
            versions.add(version)
            builds.add(build)
        except Exception as exc:  # every failure is reported, none is retried away
            errors.append(f"{type(exc).__name__}: {exc}")
        reads += 1
    print(json.dumps({"reads": reads, "errors": errors[:20], "error_count": len(errors),
                      "versions": sorted(versions), "builds": sorted(builds)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
