"""One extraction batch: its id, timestamp and running counts.

A batch is one run of one source table's extractor; every raw row it writes carries its id,
and ``raw_meta.batches`` records its counts, so any raw row can be traced to the run (and the
Dagster materialization) that loaded it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class QuarantinedLine:
    file_path: str
    line_number: int
    reason: str
    raw_text: str | None

    def location(self) -> str:
        return f"{self.file_path}:{self.line_number}"


@dataclass
class BatchResult:
    """What one batch did; the Dagster asset turns this into materialization metadata."""

    batch_id: str
    source_system: str
    source_table: str
    extracted_at: datetime  # naive UTC, the value of every row's _extracted_at
    rows_read: int = 0
    rows_loaded: int = 0
    files_loaded: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)  # duplicate deliveries found now
    files_empty: list[str] = field(default_factory=list)  # loaded files with no record
    quarantined: list[QuarantinedLine] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    cursor_value: str | None = None
    table_rows: int = 0  # rows in the raw table after the batch
    duration_seconds: float = 0.0

    @property
    def rows_quarantined(self) -> int:
        return len(self.quarantined)

    def stats(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "files_loaded": len(self.files_loaded),
            "files_skipped": len(self.files_skipped),
        }


def new_batch(system: str, table: str) -> BatchResult:
    now = datetime.now(UTC).replace(tzinfo=None)
    batch_id = f"{system}.{table}.{now:%Y%m%dT%H%M%S}.{uuid.uuid4().hex[:8]}"
    return BatchResult(batch_id=batch_id, source_system=system, source_table=table,
                       extracted_at=now)
