"""File modes by access tier: who may read each file the warehouse writes.

* data engineers and the pipeline: ``warehouse.duckdb`` (raw PII), its ``.wal`` and its
  ``.tmp`` spill directory: 0600 (directories 0700);
* the privacy officer and the pipeline: ``pii.duckdb`` (+ ``.wal``) and the key files: 0600;
* analysts and BI tools (the BI group): ``marts.duckdb``, the ``parquet/`` versions and the
  HTML report: 0640 (directories 0750).

The BI tier is readable by the file's group: put the data folder in the BI group and make it
set-group-id (``chgrp crm-bi data && chmod 2750 data``) so new files get that group.

DuckDB creates its files itself, with the process umask: the database, the WAL (deleted at
every checkpoint and created again by the next write) and spill files. A ``chmod`` after the
fact cannot cover a WAL that comes and goes, so whoever writes a private database holds
:func:`private_umask` (077) for as long as it writes: :func:`warehouse.connection.connect`
while it opens the file, the Dagster warehouse resource for the whole step (and the dbt
process it starts inherits it), the vault while it is open, the publisher while it builds the
new copy. The umask is per process in POSIX; holders are counted (threads may overlap) and
the previous umask comes back when the last one leaves, so it is never changed for good.
Published files are written privately and given their tier mode just before the atomic swap.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600  # build database, vault, keys
PRIVATE_DIR_MODE = 0o700
SHARED_FILE_MODE = 0o640  # the publication and the report: owner writes, BI group reads
SHARED_DIR_MODE = 0o750

_lock = threading.Lock()
_holders = 0
_saved_umask: int | None = None


def acquire_private_umask() -> None:
    """Set the process umask to 077 (new files 0600, directories 0700) until released."""
    global _holders, _saved_umask
    with _lock:
        if _holders == 0:
            _saved_umask = os.umask(PRIVATE_UMASK)
        _holders += 1


def release_private_umask() -> None:
    """Undo one :func:`acquire_private_umask`; the last release restores the previous umask."""
    global _holders, _saved_umask
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0 and _saved_umask is not None:
            os.umask(_saved_umask)
            _saved_umask = None


@contextmanager
def private_umask() -> Iterator[None]:
    """Files and directories created inside (by this process or a child it starts) are
    readable by their owner only."""
    acquire_private_umask()
    try:
        yield
    finally:
        release_private_umask()


def set_mode(path: str | Path, mode: int) -> bool:
    """``chmod`` a file or directory; a missing path, a symlink or someone else's file is left
    as it is (False)."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return False
        os.chmod(path, mode)
    except (FileNotFoundError, PermissionError):
        return False
    return True


def secure_database(path: str | Path, mode: int = PRIVATE_FILE_MODE) -> None:
    """A DuckDB file and its WAL to ``mode``, its spill directory to ``mode`` plus the
    directory bits: fixes files an earlier version created world-readable."""
    set_mode(path, mode)
    set_mode(f"{path}.wal", mode)
    set_mode(f"{path}.tmp", _dir_mode(mode))


def share_tree(root: str | Path, file_mode: int = SHARED_FILE_MODE,
               dir_mode: int = SHARED_DIR_MODE) -> None:
    """``root`` and everything under it to the BI tier's modes (symlinks left alone)."""
    root = Path(root)
    if root.is_dir() and not root.is_symlink():
        set_mode(root, dir_mode)
        for folder, dirs, files in os.walk(root):
            for name in dirs:
                set_mode(Path(folder, name), dir_mode)
            for name in files:
                set_mode(Path(folder, name), file_mode)
    else:
        set_mode(root, file_mode)


def make_shared_dir(path: str | Path, mode: int = SHARED_DIR_MODE) -> Path:
    """``mkdir -p`` whose new directories get ``mode`` whatever the umask (the data folder
    holds the publication, so the BI group must be able to enter it); existing ones are left
    as the operator set them."""
    path = Path(path)
    missing, p = [], path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        set_mode(created, mode)
    return path


def file_mode(path: str | Path) -> int:
    """The permission bits of ``path`` (e.g. ``0o600``)."""
    return stat.S_IMODE(os.stat(path).st_mode)


def _dir_mode(mode: int) -> int:
    """Directory mode matching a file mode: search (x) wherever read (r) is allowed."""
    return mode | ((mode & 0o444) >> 2)
