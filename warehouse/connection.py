"""How to open the warehouse, and how to load DuckDB extensions on a machine with no internet.

DuckDB allows one writing process per database file. Writers open the build database through
:func:`connect`; readers pass ``read_only=True``; BI tools read the published copy only.

DuckDB cannot download extensions here, so the extension binaries come from the pinned PyPI
wheels ``duckdb-extension-*`` (signed official binaries, verified by DuckDB on load). sqlite and
postgres only load under their canonical names from an extension directory, so
:func:`extension_directory` copies them into one under ``data/artifacts`` once.
"""

from __future__ import annotations

import glob
import importlib
import os
import shutil
from contextlib import contextmanager, nullcontext
from pathlib import Path

import duckdb

from warehouse.config import duckdb_memory_limit, settings
from warehouse.filemodes import make_shared_dir, private_umask, secure_database

# wheel module -> canonical DuckDB extension name
_EXTENSION_WHEELS = {
    "httpfs": ("duckdb_extension_httpfs", "httpfs"),
    "sqlite": ("duckdb_extension_sqlite", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres", "postgres_scanner"),
}


def _wheel_binary(module_name: str) -> Path:
    module = importlib.import_module(module_name)
    pattern = os.path.join(os.path.dirname(module.__file__), "extensions", "**",
                           "*.duckdb_extension")
    found = glob.glob(pattern, recursive=True)
    if not found:
        raise RuntimeError(f"no .duckdb_extension file inside the {module_name} package")
    return Path(found[0])


def extension_directory() -> Path:
    """An extension directory holding the wheel binaries under their canonical names."""
    platform = duckdb.connect().execute("PRAGMA platform").fetchone()[0]
    root = Path(os.environ.get("CRMW_DUCKDB_EXTENSION_DIR")
                or settings().artifacts_dir / "duckdb_extensions")
    target = root / f"v{duckdb.__version__}" / platform
    target.mkdir(parents=True, exist_ok=True)
    for module_name, canonical in _EXTENSION_WHEELS.values():
        dest = target / f"{canonical}.duckdb_extension"
        if not dest.exists():
            tmp = dest.with_suffix(f".tmp{os.getpid()}")
            shutil.copy(_wheel_binary(module_name), tmp)
            os.replace(tmp, dest)  # atomic: parallel processes never see half a file
    return root


def connect(path: str | Path | None = None, *, read_only: bool = False,
            extensions: tuple[str, ...] = ()) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database (default: the build warehouse) with offline extensions loaded
    and DuckDB's memory capped (``CRMW_DUCKDB_MEMORY_LIMIT``): larger sorts, joins and
    aggregations spill to ``<database>.tmp`` beside the file instead of growing the process.

    A database opened for writing is private (``warehouse.filemodes``): created under umask
    077 and set to 0600 with its WAL (an existing world-readable file is fixed here). Its WAL
    comes again after every checkpoint: long writers hold ``private_umask()`` themselves (the
    Dagster warehouse resource does, for every step)."""
    path = Path(path) if path else settings().warehouse_path
    if not read_only:
        make_shared_dir(path.parent)  # the data folder: it holds the publication too
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
              "memory_limit": duckdb_memory_limit()}
    if extensions:
        config["extension_directory"] = str(extension_directory())
    if read_only or str(path) == ":memory:":
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    else:
        with private_umask():
            con = duckdb.connect(str(path), read_only=read_only, config=config)
        secure_database(path)
    for name in extensions:
        if name not in _EXTENSION_WHEELS:
            raise ValueError(f"unknown extension {name!r}; known: {sorted(_EXTENSION_WHEELS)}")
        con.execute(f"LOAD {name}")
    return con


def scratch(temp_directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for work across attached files (publishing, the report), with the
    same memory cap as :func:`connect`. In memory DuckDB would otherwise take 80% of RAM and
    spill to ``.tmp`` in the current directory; here it spills to ``temp_directory``
    (measured: publishing the marts of 1,000,000 customers peaked at 10.7 GB uncapped)."""
    temp_directory.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(":memory:", config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
        "memory_limit": duckdb_memory_limit(), "temp_directory": str(temp_directory)})


@contextmanager
def warehouse(read_only: bool = False, extensions: tuple[str, ...] = ()):
    """Context manager around :func:`connect` for the build warehouse; a writer holds the
    private umask while it is open, so the WAL DuckDB creates is 0600 too."""
    with nullcontext() if read_only else private_umask():
        con = connect(read_only=read_only, extensions=extensions)
        try:
            yield con
        finally:
            con.close()
