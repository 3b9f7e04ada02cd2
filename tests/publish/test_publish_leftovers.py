"""A publication killed midway leaves temporary files (the new copy and its WAL, a half-written
Parquet version, spill files); the next publication removes them, says so, and keeps what
readers may still use. One publication at a time per folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import duckdb

from warehouse.publish import (
    publication_lock,
    publication_paths,
    publish,
    read_manifest,
    remove_interrupted_publications,
)


def _build(path, rows: int = 10) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(f"create or replace table marts.big as select i, 'c' || i as customer_key "
                f"from range({rows}) t(i)")
    con.close()


def test_leftovers_of_interrupted_publications_are_removed_and_reported(tmp_path, caplog):
    build = tmp_path / "warehouse.duckdb"
    _build(build)
    first = publish(build)
    paths = publication_paths(build)
    versions = paths.parquet_root / "versions"
    older = versions / "20000101T000000000000Z-000000"  # a previous version: readers may use it
    older.mkdir()
    leftovers = [
        tmp_path / f".marts.duckdb.{first.version}x.tmp",
        tmp_path / f".marts.duckdb.{first.version}x.tmp.wal",
        versions / f".{first.version}x.tmp",  # Parquet being written
        versions / "29991231T000000000000Z-ffffff",  # written, never made current
        tmp_path / ".publish_tmp" / "duckdb_temp_storage-0.tmp",
        paths.parquet_root / ".current.0123abcd.tmp",  # a symlink swap cut short
    ]
    for path in leftovers[:2]:
        path.write_bytes(b"x" * 1000)
    for path in leftovers[2:4]:
        (path / "marts").mkdir(parents=True)
        (path / "marts" / "big.parquet").write_bytes(b"half")
    leftovers[4].parent.mkdir(exist_ok=True)
    leftovers[4].write_bytes(b"spill")
    os.symlink("versions/29991231T000000000000Z-ffffff", leftovers[5])

    with publication_lock(paths), caplog.at_level("WARNING", logger="warehouse.publish"):
        removed = remove_interrupted_publications(paths)
    assert sorted(removed) == sorted(leftovers)
    assert not any(os.path.lexists(p) for p in leftovers)
    assert older.exists() and paths.parquet_current.resolve().name == first.version
    assert "removed 6 leftover(s) of interrupted publications" in caplog.text

    (tmp_path / f".marts.duckdb.{first.version}y.tmp").write_bytes(b"x")
    second = publish(build)
    assert second.removed == [tmp_path / f".marts.duckdb.{first.version}y.tmp"]
    assert read_manifest(paths.database)[0][0] == second.version
    assert publish(build).removed == []


KILLABLE = """
import sys
from pathlib import Path
from warehouse.publish import publish
publish(Path(sys.argv[1]))
"""


def test_a_publication_killed_midway_is_cleaned_by_the_next(tmp_path):
    build = tmp_path / "warehouse.duckdb"
    _build(build, rows=500_000)
    good = publish(build)
    paths = publication_paths(build)
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(build)])
    deadline = time.monotonic() + 60
    try:
        while not any(p.name.endswith(".tmp") and p.name.startswith(".marts.duckdb.")
                      for p in tmp_path.iterdir()):
            assert proc.poll() is None, "the publication ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert any(p.name.startswith(".marts.duckdb.") for p in tmp_path.iterdir())
    # the last good publication is still whole
    assert {v for v, _, _ in read_manifest(paths.database)} == {good.version}
    assert paths.parquet_current.resolve().name == good.version

    nxt = publish(build)
    assert any(p.name.startswith(f".{paths.database.name}.") for p in nxt.removed), nxt.removed
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".marts.duckdb.")]
    assert not [p for p in (paths.parquet_root / "versions").iterdir()
                if p.name.startswith(".")]


def test_one_publication_at_a_time(tmp_path):
    build = tmp_path / "warehouse.duckdb"
    _build(build)
    paths = publication_paths(build)
    published = []
    with publication_lock(paths):
        worker = threading.Thread(target=lambda: published.append(publish(build)))
        worker.start()
        time.sleep(0.5)
        assert published == [], "a publication ran while another held the lock"
    worker.join(timeout=60)
    assert len(published) == 1
