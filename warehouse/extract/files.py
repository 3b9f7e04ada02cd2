"""Export-file deliveries: discovery, content hashing and the load-once rule.

A delivery is identified by its bytes (sha256), not its name: a file already loaded under any
name is skipped and recorded in ``raw_meta.skipped_files`` as a duplicate delivery (once), and
a file already loaded under the same name is simply not new. Files are loaded in name order,
which is date order for the contract's ``<entity>_<YYYY-MM-DD>[_<suffix>]`` names.

A *blank* delivery (zero bytes, an empty gzip stream, nothing but blank lines) carries no
content to compare: every zero-byte file has the same sha256, so by bytes a half-transferred
file would pass for a re-delivery of another day's. A blank file is identified by its name
and bytes instead, loaded as an empty file (``raw_meta.loaded_files.is_empty``) and named by
the ingest asset's WARN check.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# A chunk of new files read in one DuckDB call is capped by its estimated uncompressed size
# (gzip counted GZIP_RATIO times its size on disk) so memory stays bounded however long the
# history; CRMW_EXTRACT_CHUNK_MB overrides the cap.
CHUNK_MB_ENV = "CRMW_EXTRACT_CHUNK_MB"
DEFAULT_CHUNK_MB = 256
GZIP_RATIO = 8
MAX_CHUNK_FILES = 1000
# Only files this small are opened to see whether they are blank (an empty gzip stream is about
# 20 bytes; a gzip of any record is larger than its header but far below this).
BLANK_PROBE_BYTES = 4096

SUFFIXES = {"ecommerce": (".jsonl.gz", ".jsonl"), "service_desk": (".csv", ".csv.gz")}


@dataclass(frozen=True)
class Delivery:
    path: Path
    relative_path: str  # relative to the export directory of the system: _source_object
    sha256: str
    size: int
    blank: bool = False  # no content at all (see the module docstring)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_blank(path: Path, size: int) -> bool:
    """True when the file holds nothing but whitespace (after gzip decompression); False for
    a file too large to probe or that cannot be decompressed (its reader reports why)."""
    if size == 0:
        return True
    if size > BLANK_PROBE_BYTES:
        return False
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                while block := fh.read(1 << 16):
                    if block.strip():
                        return False
            return True
        return not path.read_bytes().strip()
    except (OSError, EOFError, zlib.error):
        return False


def discover(export_dir: Path, system: str, entity: str) -> list[Delivery]:
    """Every delivered file of one entity, in name order; none if the folder is absent."""
    folder = export_dir / entity
    if not folder.is_dir():
        return []
    found = [
        p for p in folder.iterdir()
        if p.is_file() and p.name.startswith(f"{entity}_") and p.name.endswith(SUFFIXES[system])
    ]
    deliveries = []
    for p in sorted(found, key=lambda p: p.name):
        size = p.stat().st_size
        deliveries.append(Delivery(p, p.relative_to(export_dir).as_posix(), sha256_of(p), size,
                                   is_blank(p, size)))
    return deliveries


def chunk_limit_bytes() -> int:
    value = os.environ.get(CHUNK_MB_ENV, "").strip()
    try:
        mb = float(value) if value else DEFAULT_CHUNK_MB
    except ValueError:
        raise ValueError(f"{CHUNK_MB_ENV}={value!r} is not a number of megabytes") from None
    if mb <= 0:
        raise ValueError(f"{CHUNK_MB_ENV}={value!r} must be positive")
    return int(mb * (1 << 20))


def estimated_bytes(delivery: Delivery) -> int:
    return delivery.size * (GZIP_RATIO if delivery.path.name.endswith(".gz") else 1)


def chunked(deliveries: list[Delivery], limit_bytes: int) -> Iterator[list[Delivery]]:
    """Consecutive runs of files (name order kept) of at most ``limit_bytes`` estimated
    uncompressed bytes and MAX_CHUNK_FILES files; a larger file is a chunk on its own."""
    chunk: list[Delivery] = []
    size = 0
    for delivery in deliveries:
        estimate = estimated_bytes(delivery)
        if chunk and (size + estimate > limit_bytes or len(chunk) >= MAX_CHUNK_FILES):
            yield chunk
            chunk, size = [], 0
        chunk.append(delivery)
        size += estimate
    if chunk:
        yield chunk
