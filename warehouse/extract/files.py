"""Export-file deliveries: discovery, content hashing and the load-once rule.

A delivery is identified by its bytes (sha256), not its name: a file already loaded under any
name is skipped and recorded in ``raw_meta.skipped_files`` as a duplicate delivery (once), and
a file already loaded under the same name is simply not new. Files are loaded in name order,
which is date order for the contract's ``<entity>_<YYYY-MM-DD>[_<suffix>]`` names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = {"ecommerce": (".jsonl.gz", ".jsonl"), "service_desk": (".csv", ".csv.gz")}


@dataclass(frozen=True)
class Delivery:
    path: Path
    relative_path: str  # relative to the export directory of the system: _source_object
    sha256: str
    size: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(export_dir: Path, system: str, entity: str) -> list[Delivery]:
    """Every delivered file of one entity, in name order; none if the folder is absent."""
    folder = export_dir / entity
    if not folder.is_dir():
        return []
    found = [
        p for p in folder.iterdir()
        if p.is_file() and p.name.startswith(f"{entity}_") and p.name.endswith(SUFFIXES[system])
    ]
    return [
        Delivery(p, p.relative_to(export_dir).as_posix(), sha256_of(p), p.stat().st_size)
        for p in sorted(found, key=lambda p: p.name)
    ]
