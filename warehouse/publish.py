"""Publish the BI-facing schemas as a read-only copy: ``marts.duckdb`` and Parquet files.

Why a copy: DuckDB allows one writing process per file, and a BI tool holding the build
database open would block the pipeline (or see it half-built). So after a build whose blocking
checks passed, every table and view of ``marts``, ``ml``, ``outreach`` and ``quality`` is
copied into a *new* file that is then renamed over ``marts.duckdb`` (``os.replace`` is atomic
on POSIX). A reader that opened the old file keeps reading the old inode until it reconnects;
a new reader sees the new version; nobody ever sees half of one. The Parquet copy is written
into a new version directory and the ``current`` symlink is swapped atomically the same way.

Anything going wrong (a missing build, a copy error, the PII guard below) removes the half-built
files and leaves the last good publication untouched.

PII guard: before the swap, every text column of the new file is scanned for anything that
looks like an unmasked e-mail address. BI-facing schemas must carry only pseudonymized or
masked values (``dbt_project/macros/pii``); a hit refuses the publication and names the
table and column (never the value).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from contracts.ml_outputs import ML_SCHEMA
from contracts.outreach import OUTREACH_SCHEMA
from warehouse.config import settings
from warehouse.connection import scratch

BI_SCHEMAS = ("marts", ML_SCHEMA, OUTREACH_SCHEMA, "quality")
MANIFEST_SCHEMA = "publication"  # publication.manifest: one row per published table
PARQUET_CURRENT = "current"  # symlink inside the Parquet root -> versions/<version>
# An e-mail whose local part is not masked (a masked one is "j***@example.com").
UNMASKED_EMAIL_REGEX = r"[A-Za-z0-9._%+\-]{2,}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"


class PublishRefused(RuntimeError):
    """The build cannot be published; the previous publication stays in place."""


@dataclass(frozen=True)
class PublicationPaths:
    database: Path  # data/marts.duckdb
    parquet_root: Path  # data/parquet (current -> versions/<version>/<schema>/<table>.parquet)

    @property
    def parquet_current(self) -> Path:
        return self.parquet_root / PARQUET_CURRENT


@dataclass
class Publication:
    version: str
    published_at: datetime
    database: Path
    parquet_dir: Path
    tables: dict[str, int] = field(default_factory=dict)  # "schema.table" -> rows
    seconds: float = 0.0


def publication_paths(warehouse_path: Path | None = None) -> PublicationPaths:
    """Where the publication lives: beside the build database (``warehouse/`` by default)."""
    folder = (warehouse_path or settings().warehouse_path).parent
    return PublicationPaths(database=folder / "marts.duckdb", parquet_root=folder / "parquet")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def bi_relations(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    """(schema, name) of every table and view in the BI-facing schemas of ``catalog``."""
    schemas = ", ".join(f"'{s}'" for s in BI_SCHEMAS)
    rows = con.execute(
        f"""
        select schema_name, table_name from duckdb_tables()
        where database_name = ? and schema_name in ({schemas})
        union
        select schema_name, view_name from duckdb_views()
        where database_name = ? and schema_name in ({schemas}) and not internal
        order by 1, 2
        """,
        [catalog, catalog],
    ).fetchall()
    return [(s, t) for s, t in rows]


def find_unmasked_pii(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """``schema.table.column`` of every text column holding an unmasked-looking e-mail.

    ``contains(column, '@')`` first: DuckDB evaluates the regex only on the rows that pass
    it, and most text values have no '@' (20 M values: 2.1 s -> 0.4 s per column).
    """
    columns = con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where database_name = ? and data_type = 'VARCHAR' and list_contains(?, schema_name)",
        [catalog, list(BI_SCHEMAS)],
    ).fetchall()
    hits = []
    for schema, table, column in columns:
        found = con.execute(
            f"select count(*) from {_quote(catalog)}.{_quote(schema)}.{_quote(table)} "
            f"where contains({_quote(column)}, '@') and regexp_matches({_quote(column)}, ?)",
            [UNMASKED_EMAIL_REGEX],
        ).fetchone()[0]
        if found:
            hits.append(f"{schema}.{table}.{column} ({found} rows)")
    return hits


def _new_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


def _copy_relations(con: duckdb.DuckDBPyConnection, relations, version: str,
                    published_at: datetime, build_path: Path) -> dict[str, int]:
    tables: dict[str, int] = {}
    for schema in sorted({s for s, _ in relations}):
        con.execute(f"create schema if not exists pub.{_quote(schema)}")
    for schema, name in relations:
        target = f"pub.{_quote(schema)}.{_quote(name)}"
        con.execute(f"create table {target} as select * from build.{_quote(schema)}.{_quote(name)}")
        tables[f"{schema}.{name}"] = con.execute(f"select count(*) from {target}").fetchone()[0]
    con.execute(f"create schema pub.{MANIFEST_SCHEMA}")
    con.execute(
        f"create table pub.{MANIFEST_SCHEMA}.manifest (version varchar, published_at timestamp, "
        "build_database varchar, table_name varchar, row_count bigint)"
    )
    con.executemany(
        f"insert into pub.{MANIFEST_SCHEMA}.manifest values (?, ?, ?, ?, ?)",
        [[version, published_at.replace(tzinfo=None), str(build_path), t, n]
         for t, n in tables.items()],
    )
    return tables


def _write_parquet(con: duckdb.DuckDBPyConnection, relations, directory: Path,
                   manifest: dict) -> None:
    for schema, name in relations:
        (directory / schema).mkdir(parents=True, exist_ok=True)
        path = directory / schema / f"{name}.parquet"
        con.execute(
            f"copy (select * from pub.{_quote(schema)}.{_quote(name)}) to '{path}' "
            "(format parquet, compression zstd)"
        )
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))


def _swap_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex}.tmp")
    os.symlink(target, tmp)
    os.replace(tmp, link)  # atomic: readers resolve either the old or the new version


def prune_parquet_versions(paths: PublicationPaths, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` version directories (never the current one)."""
    versions_dir = paths.parquet_root / "versions"
    if not versions_dir.exists():
        return []
    current = paths.parquet_current.resolve() if paths.parquet_current.exists() else None
    versions = sorted(p for p in versions_dir.iterdir() if p.is_dir())
    removed = []
    for old in versions[:-keep] if keep > 0 else versions:
        if current is not None and old.resolve() == current:
            continue
        shutil.rmtree(old, ignore_errors=True)
        removed.append(old)
    return removed


def publish(build_path: Path | None = None, paths: PublicationPaths | None = None, *,
            keep_parquet_versions: int = 2) -> Publication:
    """Copy the BI-facing schemas of the build database into a new publication, atomically.

    ``keep_parquet_versions`` old Parquet versions stay on disk for readers still using them;
    the erasure tool passes 1 so nothing of an erased person survives in an older version.
    """
    started = time.monotonic()
    build_path = Path(build_path or settings().warehouse_path)
    paths = paths or publication_paths(build_path)
    if not build_path.exists():
        raise PublishRefused(f"no build database at {build_path}: run the pipeline first")
    paths.database.parent.mkdir(parents=True, exist_ok=True)
    version = _new_version()
    published_at = datetime.now(UTC)
    tmp_db = paths.database.with_name(f".{paths.database.name}.{version}.tmp")
    versions_dir = paths.parquet_root / "versions"
    staging_dir = versions_dir / f".{version}.tmp"
    final_dir = versions_dir / version
    con = scratch(paths.database.parent / ".publish_tmp")
    try:
        con.execute(f"attach '{build_path}' as build (read_only)")
        con.execute(f"attach '{tmp_db}' as pub")
        relations = bi_relations(con, "build")
        if not relations:
            raise PublishRefused(f"{build_path} has no tables in schemas "
                                 f"{', '.join(BI_SCHEMAS)}: nothing to publish")
        tables = _copy_relations(con, relations, version, published_at, build_path)
        leaks = find_unmasked_pii(con, "pub")
        if leaks:
            raise PublishRefused(
                "unmasked e-mail addresses in BI-facing columns (mask or pseudonymize them with "
                "dbt_project/macros/pii): " + "; ".join(leaks))
        manifest = {"version": version, "published_at": published_at.isoformat(),
                    "build_database": str(build_path), "tables": tables}
        _write_parquet(con, relations, staging_dir, manifest)
        con.execute("detach build")
        con.execute("checkpoint pub")
        con.execute("detach pub")
        con.close()
        os.replace(staging_dir, final_dir)
        os.replace(tmp_db, paths.database)
        _swap_symlink(paths.parquet_current, os.path.join("versions", version))
    except BaseException:
        con.close()
        for leftover in (tmp_db, Path(f"{tmp_db}.wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(staging_dir, ignore_errors=True)
        shutil.rmtree(final_dir, ignore_errors=True)
        raise
    prune_parquet_versions(paths, keep_parquet_versions)
    return Publication(version=version, published_at=published_at, database=paths.database,
                       parquet_dir=paths.parquet_current, tables=tables,
                       seconds=time.monotonic() - started)


def read_manifest(database: Path) -> list[tuple[str, str, int]]:
    """(version, table, rows) of a published file, opened read-only (as BI tools do)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(
            f'select version, table_name, row_count from "{database.stem}".{MANIFEST_SCHEMA}.'
            "manifest order by 2"
        ).fetchall()
    finally:
        con.close()
