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
looks like an unmasked e-mail address, and every column that can hold an id for a raw source
id of a person (:func:`find_raw_source_ids`: the member, account and contact ids the build
database's raw tables hold). BI-facing schemas must carry only pseudonymized or masked values
(``dbt_project/macros/pii``); a hit refuses the publication and names the table and column
(never the value).

File modes (``warehouse.filemodes``): the new copy is written under a private umask and, just
before the swap, set to the BI tier's 0640 (directories 0750), so it is never readable by
others while it is built or if the guard refuses it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from contracts.ml_outputs import ML_SCHEMA
from contracts.outreach import OUTREACH_SCHEMA
from contracts.sources import PERSON_ID_COLUMNS, PERSON_TABLES, RAW_SCHEMAS
from warehouse.config import settings
from warehouse.connection import scratch
from warehouse.filemodes import (
    SHARED_DIR_MODE,
    SHARED_FILE_MODE,
    acquire_private_umask,
    make_shared_dir,
    release_private_umask,
    set_mode,
    share_tree,
)

BI_SCHEMAS = ("marts", ML_SCHEMA, OUTREACH_SCHEMA, "quality")
MANIFEST_SCHEMA = "publication"  # publication.manifest: one row per published table
PARQUET_CURRENT = "current"  # symlink inside the Parquet root -> versions/<version>
LOCK_NAME = ".publish.lock"  # beside marts.duckdb: one publication at a time
SPILL_DIR = ".publish_tmp"  # DuckDB spill files of a publication
log = logging.getLogger(__name__)
# An e-mail whose local part is not masked (a masked one is "j***@example.com").
UNMASKED_EMAIL_REGEX = r"[A-Za-z0-9._%+\-]{2,}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# A column named for a person's source id (member_id, erp_member_ids, web_customer_id,
# loyalty_member_no, ...): checked against every raw id, numeric member ids included.
PERSON_ID_NAME = re.compile(
    r"(^|_)(" + "|".join(re.escape(c) for c in PERSON_ID_COLUMNS) + r")s?$")
# A person id inside JSON text, e.g. failing record keys {"member_id": 17}: its value.
JSON_PERSON_ID_REGEX = (r'"[A-Za-z_]*(?:' + "|".join(PERSON_ID_COLUMNS)
                        + r')"\s*:\s*"?([^",}\]\s]+)')
_TEXT_TYPES = {"VARCHAR", "JSON"}
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                  "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}


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
    removed: list[Path] = field(default_factory=list)  # leftovers of interrupted publications


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


def _collect_raw_person_ids(con: duckdb.DuckDBPyConnection, source_catalog: str) -> int:
    """Temp tables of every person id of the raw tables that list the people of each source
    (``contracts.sources.PERSON_TABLES``): ``_raw_person_ids(id, source)``, and
    ``_raw_person_text_ids``, those that cannot be mistaken for an ordinary value (not all
    digits, 4+ characters, like ``C0001234`` or ``SD-000123``): any text column holding one is
    a leak. An all-digit id (ERP member ids: 1, 2, 3, ...) is indistinguishable from a count
    or an order number, so it is looked for only in columns named for a person id and under
    JSON keys naming one. Returns the number of ids."""
    parts = []
    for system, table, id_columns in PERSON_TABLES:
        schema = RAW_SCHEMAS[system]
        present = {r[0] for r in con.execute(
            "select column_name from duckdb_columns() where database_name = ? and "
            "schema_name = ? and table_name = ?", [source_catalog, schema, table]).fetchall()}
        parts += [f"select distinct trim({_quote(c)}::varchar) as id, "
                  f"'{system}.{table}.{c}' as source "
                  f"from {_quote(source_catalog)}.{_quote(schema)}.{_quote(table)}"
                  for c in id_columns if c in present]
    body = " union all ".join(parts) or "select null::varchar as id, null::varchar as source"
    con.execute(f"create or replace temp table _raw_person_ids as select id, source from "
                f"({body}) where id is not null and id <> ''")
    con.execute("create or replace temp table _raw_person_text_ids as select id, source "
                "from _raw_person_ids where length(id) >= 4 and "
                "not regexp_full_match(id, '[0-9]+')")
    return con.execute("select count(*) from _raw_person_ids").fetchone()[0]


def find_raw_source_ids(con: duckdb.DuckDBPyConnection, catalog: str,
                        source_catalog: str) -> list[str]:
    """``schema.table.column (n values of <raw column>)`` of every BI-facing column of
    ``catalog`` holding a raw person id found in ``source_catalog``'s raw tables.

    Checked: every text column and text list for the distinctive ids, and for any id under
    a JSON key naming a person id (e.g. failing record keys ``{"member_id": 17}``); columns
    named for a person id (:data:`PERSON_ID_NAME`, text or integer, plain or list) for every
    id. A pseudonym (64 hex digits) never equals a raw id, so pseudonymized columns pass.
    Values are compared only when their length is one an id has (a hash join per column:
    about 0.1 s per 5 million values)."""
    if not _collect_raw_person_ids(con, source_catalog):
        return []
    bounds = {}
    for by_name, ids in ((True, "_raw_person_ids"), (False, "_raw_person_text_ids")):
        lo, hi = con.execute(f"select min(length(id)), max(length(id)) from {ids}").fetchone()
        bounds[by_name] = (ids, lo or 0, hi or 0)
    columns = con.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns() "
        "where database_name = ? and list_contains(?, schema_name) order by 1, 2, 3",
        [catalog, list(BI_SCHEMAS)]).fetchall()
    hits = []
    for schema, table, column, data_type in columns:
        by_name = bool(PERSON_ID_NAME.search(column))
        is_list = data_type.endswith("[]")
        base = data_type[:-2] if is_list else data_type
        if not (base in _TEXT_TYPES or (by_name and base in _INTEGER_TYPES)):
            continue
        relation = f"{_quote(catalog)}.{_quote(schema)}.{_quote(table)}"
        col = _quote(column)
        ids, lo, hi = bounds[by_name]
        values = (f"select unnest({col})::varchar as v from {relation}" if is_list
                  else f"select {col}::varchar as v from {relation}")
        found: dict[str, int] = dict(con.execute(
            f"select i.source, count(*) from ({values}) as x join {ids} as i on i.id = x.v "
            f"where length(x.v) between {lo} and {hi} group by 1").fetchall())
        json_like = (f"contains({col}::varchar, '_id\"') or contains({col}::varchar, '_no\"')")
        if base in _TEXT_TYPES and not is_list and con.execute(
                f"select count(*) from {relation} where {json_like}").fetchone()[0]:
            for source, n in con.execute(
                    f"select i.source, count(*) from (select unnest(regexp_extract_all("
                    f"{col}::varchar, ?, 1)) as v from {relation} where {json_like}) as x "
                    "join _raw_person_ids as i on i.id = x.v group by 1",
                    [JSON_PERSON_ID_REGEX]).fetchall():
                found[source] = found.get(source, 0) + n
        if found:
            what = ", ".join(f"{n} values of {source}" for source, n in sorted(found.items()))
            hits.append(f"{schema}.{table}.{column} ({what})")
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


@contextmanager
def publication_lock(paths: PublicationPaths) -> Iterator[None]:
    """One publication at a time per folder (the pipeline and the erasure tool both publish):
    an exclusive ``flock`` on ``<folder>/.publish.lock``, released by the kernel if the holder
    is killed. Under it, any temporary file of a publication is a leftover of a dead one."""
    make_shared_dir(paths.database.parent)
    with open(paths.database.parent / LOCK_NAME, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_interrupted_publications(paths: PublicationPaths) -> list[Path]:
    """Delete what publications killed midway (``kill -9``, OOM, a reboot) left behind; call
    it under :func:`publication_lock`. Returns the paths removed (logged as a warning):

    * ``.marts.duckdb.<version>.tmp`` and its ``.wal`` (the new copy being written, as large as
      the publication and holding its data);
    * DuckDB spill files in ``.publish_tmp/``;
    * Parquet: ``versions/.<version>.tmp`` (being written), version folders newer than the one
      ``current`` points to (written, never made current; all of them if there is no
      ``current``) and ``.current.*.tmp`` symlinks of an unfinished swap.

    Older versions than ``current`` stay: readers may still use them
    (:func:`prune_parquet_versions` keeps the last ones)."""
    removed: list[Path] = []
    folder = paths.database.parent
    prefix = f".{paths.database.name}."
    if folder.is_dir():
        removed += [p for p in folder.iterdir() if p.name.startswith(prefix)
                    and p.name.endswith((".tmp", ".tmp.wal")) and p.is_file()]
    spill = folder / SPILL_DIR
    if spill.is_dir():
        removed += list(spill.iterdir())
    if paths.parquet_root.is_dir():
        removed += [p for p in paths.parquet_root.iterdir() if p.is_symlink()
                    and p.name.startswith(f".{PARQUET_CURRENT}.") and p.name.endswith(".tmp")]
    versions_dir = paths.parquet_root / "versions"
    if versions_dir.is_dir():
        link = paths.parquet_current
        current = link.resolve().name if link.is_symlink() and link.exists() else None
        for version in sorted(versions_dir.iterdir()):
            if version.name.startswith(".") and version.name.endswith(".tmp"):
                removed.append(version)
            elif version.is_dir() and not version.name.startswith(".") and (
                    current is None or version.name > current):
                removed.append(version)
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if removed:
        log.warning("removed %d leftover(s) of interrupted publications: %s", len(removed),
                    ", ".join(str(p) for p in removed))
    return removed


def publish(build_path: Path | None = None, paths: PublicationPaths | None = None, *,
            keep_parquet_versions: int = 2) -> Publication:
    """Copy the BI-facing schemas of the build database into a new publication, atomically.

    ``keep_parquet_versions`` old Parquet versions stay on disk for readers still using them;
    the erasure tool passes 1 so nothing of an erased person survives in an older version.
    One publication at a time (:func:`publication_lock`); each first removes the leftovers of
    interrupted ones (:func:`remove_interrupted_publications`, listed in ``removed``).
    """
    build_path = Path(build_path or settings().warehouse_path)
    paths = paths or publication_paths(build_path)
    with publication_lock(paths):
        removed = remove_interrupted_publications(paths)
        publication = _publish(build_path, paths, keep_parquet_versions)
    publication.removed = removed
    return publication


def _publish(build_path: Path, paths: PublicationPaths,
             keep_parquet_versions: int) -> Publication:
    started = time.monotonic()
    if not build_path.exists():
        raise PublishRefused(f"no build database at {build_path}: run the pipeline first")
    make_shared_dir(paths.database.parent)
    version = _new_version()
    published_at = datetime.now(UTC)
    tmp_db = paths.database.with_name(f".{paths.database.name}.{version}.tmp")
    versions_dir = paths.parquet_root / "versions"
    staging_dir = versions_dir / f".{version}.tmp"
    final_dir = versions_dir / version
    acquire_private_umask()  # the new copy is private until its modes are set before the swap
    con = scratch(paths.database.parent / SPILL_DIR)
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
        raw_ids = find_raw_source_ids(con, "pub", "build")
        if raw_ids:
            raise PublishRefused(
                "raw source ids of people (the ids the ERP, web shop or service desk know them "
                "by) in BI-facing columns; publish their pseudonyms instead (pseudonymize() in "
                "dbt_project/macros/pii): " + "; ".join(raw_ids))
        manifest = {"version": version, "published_at": published_at.isoformat(),
                    "build_database": str(build_path), "tables": tables}
        _write_parquet(con, relations, staging_dir, manifest)
        con.execute("detach build")
        con.execute("checkpoint pub")
        con.execute("detach pub")
        con.close()
        share_tree(staging_dir)  # the BI group's modes: 0640 files, 0750 directories
        for folder in (paths.parquet_root, versions_dir):
            set_mode(folder, SHARED_DIR_MODE)  # created private by _write_parquet's mkdir
        set_mode(tmp_db, SHARED_FILE_MODE)
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
    finally:
        release_private_umask()
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
