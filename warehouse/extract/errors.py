"""Errors that fail an extraction batch, each naming the file or ERP table at fault.

A batch that raises one of these loads nothing (its DuckDB transaction is rolled back), so the
message must tell the operator exactly what to fix before re-running.
"""


class ExtractionError(RuntimeError):
    """A delivery cannot be loaded as a whole; nothing of the batch was written."""


class MissingColumnError(ExtractionError):
    """A required contract column is absent from a delivered file or ERP table."""

    def __init__(self, source: str, columns: list[str], table: str):
        self.source = source
        self.columns = columns
        super().__init__(
            f"{source}: required column(s) {', '.join(repr(c) for c in columns)} of source "
            f"table {table!r} missing; the delivery does not match contracts/sources.py"
        )


class UnreadableFileError(ExtractionError):
    """A delivered file cannot be read at all (corrupt gzip, truncated archive, ...)."""

    def __init__(self, path: str, reason: str):
        self.path = path
        super().__init__(f"{path}: unreadable export file ({reason}); the batch loaded nothing")
